"""The admin sidebar, per role: a user sees their mailings, clients, messages and
attempts; a manager the same (read-only) and the people; an editor the blog; a
superuser everything, including the task queue.

Each link is shown when the page's own ModelAdmin would let the person in, so the
sidebar and the pages agree. Links only: the admin classes enforce the permissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _may_view(request: HttpRequest, label: str) -> bool:
    model = apps.get_model(label)
    if not admin.site.is_registered(model):
        return False
    model_admin = admin.site.get_model_admin(model)
    return model_admin.has_module_permission(
        request
    ) and model_admin.has_view_permission(request)


def _link(
    request: HttpRequest, title: StrOrPromise, icon: str, label: str
) -> dict | None:
    if not _may_view(request, label):
        return None
    app_label, model_name = label.lower().split(".")
    return {
        "title": title,
        "icon": icon,
        "link": reverse(f"admin:{app_label}_{model_name}_changelist"),
    }


def _group(
    title: StrOrPromise, items: list[dict | None], separator: bool = True
) -> dict | None:
    items = [item for item in items if item]
    if not items:
        return None
    return {"title": title, "separator": separator, "items": items}


def sidebar_navigation(request: HttpRequest) -> list[dict]:
    groups = [
        _group(
            _("Navigation"),
            [
                {
                    "title": _("Dashboard"),
                    "icon": "dashboard",
                    "link": reverse("admin:index"),
                }
            ],
            separator=False,
        ),
        _group(
            _("Mailings"),
            [
                _link(request, _("Mailings"), "campaign", "mailings.Mailing"),
                _link(request, _("Clients"), "group", "mailings.Client"),
                _link(request, _("Messages"), "mail", "mailings.Message"),
                _link(request, _("Layouts"), "web", "content.Layout"),
                _link(request, _("Attempts"), "history", "mailings.Attempt"),
                _link(
                    request,
                    _("Sender addresses"),
                    "alternate_email",
                    "content.SenderIdentity",
                ),
                _link(request, _("Footers"), "subject", "content.FooterText"),
            ],
        ),
        _group(
            _("Blog"),
            [_link(request, _("Posts"), "article", "blog.Post")],
        ),
        _group(
            _("People"),
            [
                _link(request, _("Users"), "person", "users.User"),
                _link(request, _("Groups"), "groups", "auth.Group"),
            ],
        ),
        _group(
            _("Task queue"),
            [
                _link(request, _("Schedules"), "schedule", "django_q.Schedule"),
                _link(request, _("Queued tasks"), "pending", "django_q.OrmQ"),
                _link(request, _("Successful tasks"), "task_alt", "django_q.Success"),
                _link(request, _("Failed tasks"), "error", "django_q.Failure"),
            ],
        ),
    ]
    return [group for group in groups if group]
