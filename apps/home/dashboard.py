"""Unfold's DASHBOARD_CALLBACK: what the admin index shows each role
(rendered by templates/admin/index.html)."""

import json

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from apps.home.selectors import dashboard_statistics
from apps.mailings.admin_sending import pending_count


def dashboard_callback(request, context: dict) -> dict:
    stats = dashboard_statistics(user=request.user)
    if stats.get("per_day") is not None:
        stats["chart_empty"] = not any(
            row["sent"] or row["failed"] for row in stats["per_day"]
        )
        stats["chart"] = json.dumps(
            {
                "labels": [date_format(row["day"], "j M") for row in stats["per_day"]],
                "datasets": [
                    {
                        "label": _("Sent"),
                        "data": [row["sent"] for row in stats["per_day"]],
                        "backgroundColor": "var(--color-primary-600)",
                    },
                    {
                        "label": _("Failed"),
                        "data": [row["failed"] for row in stats["per_day"]],
                        "backgroundColor": "var(--color-primary-300)",
                        "displayYAxis": True,
                    },
                ],
            }
        )
    if stats.get("recent_attempts") is not None:
        stats["attempts_table"] = {
            "headers": [
                _("time"),
                _("mailing"),
                _("status"),
                _("sent"),
                _("failed"),
                _("pending"),
            ],
            "rows": [
                [
                    format_html(
                        '<a class="text-primary-600" href="{}">{}</a>',
                        reverse("admin:mailings_attempt_change", args=[attempt.pk]),
                        date_format(attempt.attempted_at, "SHORT_DATETIME_FORMAT"),
                    ),
                    str(attempt.mailing),
                    attempt.get_status_display() or _("in progress"),
                    attempt.sent_count,
                    attempt.failed_count,
                    pending_count(attempt),
                ]
                for attempt in stats["recent_attempts"]
            ],
        }
    if stats.get("newest_users") is not None:
        stats["users_table"] = {
            "headers": [_("e-mail"), _("joined"), _("state")],
            "rows": [
                [
                    user.email,
                    date_format(user.date_joined, "SHORT_DATE_FORMAT"),
                    _user_state(user),
                ]
                for user in stats["newest_users"]
            ],
        }
    context["dashboard"] = stats
    return context


def _user_state(user) -> str:
    if user.is_blocked:
        return _("blocked")
    if not user.email_confirmed:
        return _("unconfirmed")
    return _("active")
