"""Confirmation pages of admin actions: one template, asked before anything changes."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Model
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin


def render_confirmation(
    request: HttpRequest,
    model_admin: ModelAdmin,
    *,
    title: str,
    question: str,
    objects: Iterable[object] = (),
    skipped: Iterable[object] = (),
    skipped_note: str = "",
    hidden: Iterable[tuple[str, object]] = (),
    submit_label: str = "",
    danger: bool = False,
    cancel_url: str = "",
) -> TemplateResponse:
    """A page that asks before an action changes anything, and POSTs (with CSRF).

    Unfold's row and detail actions are plain GET links, which must not change
    anything (a prefetch or a crawler would follow them): they lead here, and only
    the form on this page acts. Bulk actions come here from the changelist.
    """
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "objects": list(objects),
        "skipped": list(skipped),
        "skipped_note": skipped_note,
        "hidden": list(hidden),
        "submit_label": submit_label or _("Yes, I’m sure"),
        "danger": danger,
        "cancel_url": cancel_url,
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/confirm_action.html", context)


def confirmed(request: HttpRequest) -> bool:
    """The POST of a confirmation page (a GET or the first changelist POST asks)."""
    return request.method == "POST" and request.POST.get("post") == "yes"


def bulk_action_fields(
    action: str, objects: Iterable[Model]
) -> list[tuple[str, object]]:
    """Hidden fields that send a changelist action back with its selection, confirmed.

    Without ``index`` Django treats the POST as the answer of a confirmation page.
    """
    return [
        ("action", action),
        ("post", "yes"),
        *((ACTION_CHECKBOX_NAME, obj.pk) for obj in objects),
    ]
