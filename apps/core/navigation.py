"""The admin sidebar, one set of links per role (links only: permissions are enforced
by the admin classes themselves)."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


def _item(title, icon, url_name, perm):
    return {
        "title": title,
        "icon": icon,
        "link": reverse_lazy(url_name),
        "permission": lambda request, perm=perm: (
            request.user.has_perm(perm) or _is_user_role(request, perm)
        ),
    }


def _is_user_role(request, perm: str) -> bool:
    # Users hold only object permissions plus "add": the add permission marks the role.
    app, codename = perm.split(".")
    model = codename.split("_", 1)[1]
    return request.user.has_perm(f"{app}.add_{model}")


def sidebar_navigation(request) -> list[dict]:
    return [
        {
            "title": _("Navigation"),
            "items": [
                {
                    "title": _("Dashboard"),
                    "icon": "dashboard",
                    "link": reverse_lazy("admin:index"),
                },
            ],
        },
        {
            "title": _("Mailings"),
            "separator": True,
            "items": [
                _item(
                    _("Mailings"),
                    "campaign",
                    "admin:mailings_mailing_changelist",
                    "mailings.view_mailing",
                ),
                _item(
                    _("Clients"),
                    "group",
                    "admin:mailings_client_changelist",
                    "mailings.view_client",
                ),
                _item(
                    _("Messages"),
                    "mail",
                    "admin:mailings_message_changelist",
                    "mailings.view_message",
                ),
                _item(
                    _("Attempts"),
                    "history",
                    "admin:mailings_attempt_changelist",
                    "mailings.view_attempt",
                ),
            ],
        },
        {
            "title": _("Blog"),
            "separator": True,
            "items": [
                _item(
                    _("Posts"),
                    "article",
                    "admin:blog_post_changelist",
                    "blog.view_post",
                ),
            ],
        },
        {
            "title": _("Administration"),
            "separator": True,
            "items": [
                _item(
                    _("Users"),
                    "person",
                    "admin:users_user_changelist",
                    "users.view_user",
                ),
                _item(
                    _("Groups"),
                    "groups",
                    "admin:auth_group_changelist",
                    "auth.view_group",
                ),
                {
                    "title": _("Task queue"),
                    "icon": "schedule",
                    "link": reverse_lazy("admin:django_q_schedule_changelist"),
                    "permission": lambda request: request.user.is_superuser,
                },
            ],
        },
    ]
