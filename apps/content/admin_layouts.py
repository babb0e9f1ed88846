"""Layouts in the admin: an owner's HTML frame around messages, checked on save
(``Layout.clean``: ``{{ content }}`` and ``{{ unsubscribe_url }}`` present, no
other template syntax, HTML cleaned for e-mail), previewed with sample content."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from unfold.decorators import action

from apps.content import layouts
from apps.content.admin_preview import FRAME_POLICY
from apps.content.models import Layout
from apps.content.placeholders import substitute, valid_names
from apps.content.preview import SAMPLE, Preview
from apps.core import permissions
from apps.core.admin import OwnedModelAdmin
from apps.core.http import AuthenticatedHttpRequest
from apps.core.validators import parse_id


class LayoutForm(forms.ModelForm):
    class Meta:
        model = Layout
        fields = ["name", "html"]
        widgets = {
            "html": forms.Textarea(
                attrs={"rows": 24, "class": "font-mono", "spellcheck": "false"}
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "html" in self.fields:
            self.fields["html"].help_text = format_help()
        if not self.instance.pk and "html" in self.fields:
            self.fields["html"].initial = layouts.DEFAULT_LAYOUT.replace(
                "UNSUBSCRIBE_LABEL", gettext("Unsubscribe")
            )


def format_help() -> str:
    return gettext(
        "The HTML around your messages (what goes inside <body>; a <style> element "
        "is inlined when sent). It must contain {{ content }}, where the message "
        "goes, and {{ unsubscribe_url }}. Placeholders: %(names)s."
    ) % {"names": valid_names(layout=True)}


@admin.register(Layout)
class LayoutAdmin(OwnedModelAdmin[Layout]):
    form = LayoutForm
    list_display = ["name", "updated_at"]
    search_fields = ["name"]
    fields = ["name", "html"]
    actions_detail = ["preview_layout"]

    def get_form(
        self, request: AuthenticatedHttpRequest, obj: Layout | None = None, **kw: Any
    ) -> type[forms.ModelForm[Any]]:
        form: type[forms.ModelForm[Any]] = super().get_form(request, obj, **kw)
        if obj is None:
            owner = request.user

            # mypy takes no base class that is a value (the admin makes this form
            # class for each request).
            class OwnedForm(form):  # type: ignore[misc, valid-type]
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    super().__init__(*args, **kwargs)
                    self.instance.owner = owner

            return OwnedForm
        return form

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/preview/html/",
                self.admin_site.admin_view(self.preview_html),
                name="content_layout_preview_html",
            ),
            *super().get_urls(),
        ]

    def _layout(self, request: AuthenticatedHttpRequest, object_id: Any) -> Layout:
        pk = parse_id(object_id)
        layout = (
            None if pk is None else self.get_queryset(request).filter(pk=pk).first()
        )
        if layout is None:
            raise Http404(gettext("No such layout."))
        return layout

    def has_preview_layout_permission(
        self, request: AuthenticatedHttpRequest, object_id: Any = None
    ) -> bool:
        return permissions.may(request.user, "view", Layout)

    @action(
        description=_("Preview"),
        url_path="preview",
        permissions=["preview_layout"],
        icon="preview",
    )
    def preview_layout(
        self, request: AuthenticatedHttpRequest, object_id: Any
    ) -> HttpResponse:
        layout = self._layout(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": layout,
            "title": gettext("Preview of “%(object)s”") % {"object": layout.name},
            "is_layout": True,
            "preview": Preview(subject=layout.name, headers=[], text="", html="-"),
            "html_url": reverse("admin:content_layout_preview_html", args=[layout.pk]),
            "change_url": reverse("admin:content_layout_change", args=[layout.pk]),
        }
        return TemplateResponse(request, "content/admin/preview.html", context)

    @xframe_options_sameorigin
    def preview_html(
        self, request: AuthenticatedHttpRequest, object_id: Any
    ) -> HttpResponse:
        """The layout around sample content, for the preview's sandboxed frame."""
        if not self.has_preview_layout_permission(request):
            raise PermissionDenied
        layout = self._layout(request, object_id)
        html = layouts.document(
            layouts.apply_layout(layout.html, layouts.SAMPLE_CONTENT),
            language=(request.LANGUAGE_CODE or "en")[:2],
        )
        context = {
            "full_name": SAMPLE.full_name,
            "first_name": SAMPLE.full_name.split()[0],
            "email": SAMPLE.email,
            "unsubscribe_url": "#",
            "today": timezone.localdate().isoformat(),
        }
        response = HttpResponse(
            substitute(html, context, html=True),
            content_type="text/html; charset=utf-8",
        )
        response["Content-Security-Policy"] = FRAME_POLICY
        response["Cache-Control"] = "no-store"
        return response
