"""Post changes orphan the cached blog pages (list, details, the home page's pool)."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.blog.models import Post
from apps.blog.selectors import blog_cache_bump


@receiver(post_save, sender=Post, dispatch_uid="blog_post_saved")
@receiver(post_delete, sender=Post, dispatch_uid="blog_post_deleted")
def post_changed(sender, **kwargs) -> None:
    blog_cache_bump()
    # Again after commit: a reader between the two may have cached the old rows.
    transaction.on_commit(blog_cache_bump)
