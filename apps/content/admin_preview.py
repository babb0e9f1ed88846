"""The "Preview and test" page of messages and mailings (mixed into their admins).

GET shows the message one recipient would get: subject, headers, the HTML part in
a sandboxed frame and the text part, for a client the person names by e-mail
(default: a sample reader). The frame loads ``preview/html/``, served with a CSP
that lets nothing run, submit or load but images and inline styles. POST sends a
test to the person (``apps.content.preview.send_test``).

Whoever may view the object sees its preview (owners, managers); only whoever may
change it sends a test. Someone else's object answers 404, like its change page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from unfold.decorators import action

from apps.content import preview
from apps.core import permissions
from apps.core.http import AuthenticatedHttpRequest
from apps.core.validators import parse_id
from apps.mailings.models import Client, Mailing, Message

# Nothing in a previewed message runs, submits, navigates or loads but images.
FRAME_POLICY = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)
PREVIEW_ACTION = "preview_and_test"


class ContentPreviewMixin:
    """For an admin of messages or of mailings (an OwnedModelAdmin)."""

    model: Any
    admin_site: Any
    actions_detail: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = list(getattr(self, "actions_detail", None) or [])
        if PREVIEW_ACTION not in names:
            self.actions_detail = [PREVIEW_ACTION, *names]

    def get_queryset(self, request: AuthenticatedHttpRequest) -> Any:
        return super().get_queryset(request)  # type: ignore[misc]

    def get_urls(self) -> list[Any]:
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/preview/html/",
                self.admin_site.admin_view(self.preview_html),
                name=f"{opts.app_label}_{opts.model_name}_preview_html",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    # --- what is previewed ---

    def _preview_object(
        self, request: AuthenticatedHttpRequest, object_id: Any
    ) -> Message | Mailing:
        pk = parse_id(object_id)
        obj = None if pk is None else self.get_queryset(request).filter(pk=pk).first()
        if obj is None:
            raise Http404(gettext("No such message or mailing."))
        return obj

    @staticmethod
    def _parts(obj: Message | Mailing) -> tuple[Message, Mailing | None]:
        if isinstance(obj, Mailing):
            return obj.message, obj
        return obj, None

    @staticmethod
    def _client(
        request: AuthenticatedHttpRequest, message: Message
    ) -> tuple[Client | None, str]:
        """The client named by ``?client=<e-mail>`` among the owner's clients that
        the person may see, and the address asked for."""
        asked = (request.GET.get("client") or "").strip()[:254]
        if not asked:
            return None, ""
        found = (
            permissions.visible(request.user, Client)
            .filter(owner_id=message.owner_id, email__iexact=asked)
            .first()
        )
        return found, asked

    def has_preview_and_test_permission(
        self, request: AuthenticatedHttpRequest, object_id: Any = None
    ) -> bool:
        return permissions.may(request.user, "view", self.model)

    @action(
        description=_("Preview and test"),
        url_path="preview",
        permissions=[PREVIEW_ACTION],
        icon="preview",
    )
    def preview_and_test(
        self, request: AuthenticatedHttpRequest, object_id: Any
    ) -> HttpResponse:
        obj = self._preview_object(request, object_id)
        message, mailing = self._parts(obj)
        client, asked = self._client(request, message)
        may_test = permissions.can(request.user, "change", obj)
        opts = self.model._meta
        here = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_{PREVIEW_ACTION}", args=[obj.pk]
        )
        if request.method == "POST":
            if not may_test:
                raise PermissionDenied
            result = preview.send_test(
                user=request.user,
                to=request.POST.get("to", ""),
                message=message,
                mailing=mailing,
                client=client,
            )
            (messages.success if result.ok else messages.error)(request, result.text)
            query = f"?{request.GET.urlencode()}" if request.GET else ""
            return HttpResponseRedirect(here + query)
        shown = preview.preview(message=message, mailing=mailing, client=client)
        html_url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_preview_html", args=[obj.pk]
        )
        left, _wait = preview.test_sends_left(request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": opts,
            "original": obj,
            "title": gettext("Preview of “%(object)s”") % {"object": message.subject},
            "preview": shown,
            "client": client,
            "asked": asked,
            "html_url": html_url + (f"?{request.GET.urlencode()}" if asked else ""),
            "change_url": reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]
            ),
            "may_test": may_test,
            "test_addresses": preview.test_addresses(request.user) if may_test else [],
            "tests_left": left,
            "tests_per_hour": preview.TEST_SENDS_PER_HOUR,
        }
        return TemplateResponse(request, "content/admin/preview.html", context)

    @xframe_options_sameorigin
    def preview_html(
        self, request: AuthenticatedHttpRequest, object_id: Any
    ) -> HttpResponse:
        """The HTML part alone, for the preview's sandboxed frame."""
        if not self.has_preview_and_test_permission(request):
            raise PermissionDenied
        obj = self._preview_object(request, object_id)
        message, mailing = self._parts(obj)
        client, _asked = self._client(request, message)
        shown = preview.preview(message=message, mailing=mailing, client=client)
        response = HttpResponse(
            shown.html or "", content_type="text/html; charset=utf-8"
        )
        response["Content-Security-Policy"] = FRAME_POLICY
        response["Cache-Control"] = "no-store"
        return response
