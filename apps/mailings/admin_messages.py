"""Messages in the admin: subject, HTML (CKEditor 5, configured for e-mail), the
plain-text part, layout and language; "Preview and test" on each message.

The HTML is cleaned for e-mail and the placeholders checked by the model
(``Message.clean``/``save``), so every write path gets the same rules.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import format_lazy
from django.utils.translation import get_language
from django_ckeditor_5.widgets import CKEditor5Widget

from apps.content.admin_preview import ContentPreviewMixin
from apps.content.images import message_image_upload
from apps.content.models import Language, Layout
from apps.content.placeholders import HELP_TEXT
from apps.core import permissions
from apps.core.admin import OwnedModelAdmin
from apps.core.forms import IdChoicesGuardMixin
from apps.core.http import AuthenticatedHttpRequest
from apps.mailings.admin_owner import MessageOwnerMixin
from apps.mailings.models import Message
from apps.users.models import User


class EmailEditorWidget(CKEditor5Widget):
    """The blog's editor with the e-mail toolbar, uploading to the messages' own
    image view (the library's widget has one upload URL for every editor)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(config_name="email", attrs=attrs)

    def render(
        self, name: str, value: Any, attrs: Any = None, renderer: Any = None
    ) -> SafeString:
        html = str(super().render(name, value, attrs, renderer))
        blog = f'data-upload-url="{reverse("ck_editor_5_upload_file")}"'
        ours = f'data-upload-url="{reverse("admin:mailings_message_image_upload")}"'
        return mark_safe(html.replace(blog, ours))  # noqa: S308 - the widget's own HTML


class MessageForm(IdChoicesGuardMixin, forms.ModelForm):
    class Meta:
        model = Message
        fields = ["subject", "body_html", "body", "layout", "language"]
        widgets = {"body_html": EmailEditorWidget()}

    def __init__(self, *args: Any, owner: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if owner is not None and not self.instance.owner_id:
            # Model validation (the layout is the owner's) needs the owner first.
            self.instance.owner = owner
        layout = self.fields.get("layout")
        if owner is not None and isinstance(layout, forms.ModelChoiceField):
            # Only the owner's layouts; a posted id of someone else's is invalid.
            layout.queryset = permissions.owned(owner, Layout).order_by("name")
        for name in ("subject", "body_html", "body"):
            if name in self.fields:
                own = self.fields[name].help_text
                self.fields[name].help_text = (
                    format_lazy("{} {}", own, HELP_TEXT) if own else HELP_TEXT
                )


class MessageAdmin(MessageOwnerMixin, ContentPreviewMixin, OwnedModelAdmin[Message]):
    form = MessageForm
    list_display = ["subject", "language", "created_at"]
    search_fields = ["subject"]
    fields = ["subject", "body_html", "body", "layout", "language"]
    actions_detail = ["duplicate_detail"]

    def get_urls(self) -> list[Any]:
        return [
            path(
                "upload-image/",
                self.admin_site.admin_view(message_image_upload),
                name="mailings_message_image_upload",
            ),
            *super().get_urls(),
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        # A new message speaks the language its owner works in.
        language = (get_language() or "en")[:2]
        initial.setdefault(
            "language", language if language in Language.values else Language.EN
        )
        return initial

    def get_form(
        self,
        request: AuthenticatedHttpRequest,
        obj: Message | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        form: type[forms.ModelForm[Any]] = super().get_form(
            request, obj, change=change, **kwargs
        )
        owner = obj.owner if obj is not None else request.user

        # mypy takes no base class that is a value (the admin makes this form class
        # for each request).
        class OwnedMessageForm(form):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                kw.setdefault("owner", owner)
                super().__init__(*args, **kw)

        return OwnedMessageForm


admin.site.register(Message, MessageAdmin)
