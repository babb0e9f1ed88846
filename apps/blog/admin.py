from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_ckeditor_5.widgets import CKEditor5Widget
from unfold.admin import ModelAdmin

from apps.blog.models import Post
from apps.blog.services import image_extension, post_content_is_empty
from apps.core.admin import PermissionsAdminMixin

if TYPE_CHECKING:
    from apps.users.models import User


class PostAdminForm(forms.ModelForm):
    class Meta:
        model = Post
        fields = ["title", "slug", "content", "image", "is_published", "published_at"]
        widgets = {"content": CKEditor5Widget(config_name="default")}

    class Media:
        # Keeps Unfold's file-input helper off CKEditor's upload input (see the file).
        js = ["js/ckeditor-file-input.js"]

    def clean_content(self) -> str:
        content = self.cleaned_data.get("content", "")
        if post_content_is_empty(content):
            raise forms.ValidationError(
                _("Write the post's text: it is empty."), code="required"
            )
        return content

    def clean_image(self):
        image = self.cleaned_data.get("image")
        # Only a new upload is checked (an unchanged field is a FieldFile); the same
        # checks as the editor's uploads, and its stored name comes from them too.
        if image and hasattr(image, "content_type"):
            image_extension(image)
        return image


@admin.register(Post)
class PostAdmin(PermissionsAdminMixin, ModelAdmin):
    """Content editors' CRUD on posts (model permissions of the "Content editors"
    group, asked of the permission module; users and managers hold none, so the
    admin answers 403 and hides it)."""

    form = PostAdminForm
    list_display = ["title", "is_published", "published_at", "views_count", "author"]
    list_filter = ["is_published"]
    list_select_related = ["author"]
    search_fields = ["title"]
    date_hierarchy = "published_at"
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["views_count", "author", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "content", "image"]}),
        (
            _("Publication"),
            {"fields": ["is_published", "published_at", "views_count", "author"]},
        ),
        (_("History"), {"fields": ["created_at", "updated_at"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Post, form, change: bool) -> None:
        if not change and obj.author_id is None:
            # The admin serves logged-in staff only: never the anonymous user.
            obj.author = cast("User", request.user)
        super().save_model(request, obj, form, change)
