from django.contrib import admin
from unfold.admin import ModelAdmin

from apps.blog.models import Post


@admin.register(Post)
class PostAdmin(ModelAdmin):
    list_display = ["title", "is_published", "published_at", "views_count"]
    prepopulated_fields = {"slug": ["title"]}
    search_fields = ["title"]
