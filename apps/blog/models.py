from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.core.validators import validate_no_control_characters, validate_no_newlines

COVER_FOLDER = "blog"


def post_cover_path(instance: "Post", filename: str) -> str:
    """Where a cover image is stored: ``blog/<uuid>.<extension of the detected
    format>``, whatever the uploaded file was called."""
    from apps.blog import services

    return services.image_name(folder=COVER_FOLDER, upload=instance.image.file)


class PostQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True, published_at__lte=timezone.now())


class Post(TimeStampedModel):
    title = models.CharField(
        _("title"), max_length=200, validators=[validate_no_newlines]
    )
    slug = models.SlugField(
        _("slug"),
        max_length=220,
        unique=True,
        blank=True,
        help_text=_("Leave empty to make one from the title."),
    )
    content = models.TextField(
        _("content"), validators=[validate_no_control_characters]
    )
    image = models.ImageField(_("image"), upload_to=post_cover_path, blank=True)
    views_count = models.PositiveIntegerField(_("views"), default=0, editable=False)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    is_published = models.BooleanField(_("published"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="posts",
        verbose_name=_("author"),
    )

    objects = PostQuerySet.as_manager()

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["-published_at"]
        indexes = [
            # Public list: published posts, newest first.
            models.Index(
                fields=["is_published", "-published_at"], name="post_public_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        from apps.blog import services

        # Every write path (admin, shell, fixtures through save()) stores clean HTML.
        self.content = services.post_content_sanitize(self.content)
        if not self.slug:
            self.slug = services.post_slug_generate(
                title=self.title, exclude_pk=self.pk
            )
        super().save(*args, **kwargs)

    @property
    def is_public(self) -> bool:
        return self.is_published and self.published_at <= timezone.now()

    def get_absolute_url(self) -> str:
        return reverse("blog:detail", kwargs={"slug": self.slug})
