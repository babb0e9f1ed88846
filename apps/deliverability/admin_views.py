"""Report pages in the admin: one per mailing and per attempt (with a CSV export),
and the managers' view of site-wide rates and of owners over the abuse limits.

Who sees what is the permission module's answer, through the selectors: an owner
sees the reports of their own mailings, a manager every report and the signals
page; anyone else gets a 404 (a report's existence is not confirmed).
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from apps.core import permissions
from apps.deliverability import stats
from apps.mailings import selectors
from apps.mailings.exports import spreadsheet_safe
from apps.mailings.models import Attempt, Delivery, Mailing

CHART_HEIGHT = 120


def _chart(report: stats.Report) -> dict[str, Any]:
    """Bars of a small SVG chart (no script: the admin's CSP allows none inline)."""
    if not report.timeline:
        return {}
    peak = max(max(opens, clicks) for _at, opens, clicks in report.timeline) or 1
    width = 14
    bars = []
    for i, (at, opens, clicks) in enumerate(report.timeline):
        o = round(CHART_HEIGHT * opens / peak)
        c = round(CHART_HEIGHT * clicks / peak)
        bars.append(
            {
                "x": i * width,
                "open_y": CHART_HEIGHT - o,
                "open_h": o,
                "click_y": CHART_HEIGHT - c,
                "click_h": c,
                "at": at,
                "opens": opens,
                "clicks": clicks,
            }
        )
    return {"bars": bars, "width": max(len(bars) * width, 100), "height": CHART_HEIGHT}


def percent(share: float | None) -> str:
    return "" if share is None else f"{number_format(share * 100, 2)} %"


def _rows(report: stats.Report) -> list[tuple[str, int, float | None]]:
    rates = report.rates()
    return [
        (_("Recipients"), report.recipients, None),
        (_("Sent"), report.sent, None),
        (_("Failed"), report.failed, rates["failed"]),
        (_("Skipped"), report.skipped, None),
        (_("Waiting to be sent"), report.pending, None),
        (_("Hard bounces"), report.hard_bounces, rates["hard_bounces"]),
        (_("Soft bounces"), report.soft_bounces, rates["soft_bounces"]),
        (_("Complaints"), report.complaints, rates["complaints"]),
        (_("Opened (unique)"), report.unique_opens, rates["unique_opens"]),
        (_("Opens (total)"), report.opens, None),
        (_("Clicked (unique)"), report.unique_clicks, rates["unique_clicks"]),
        (_("Clicks (total)"), report.clicks, None),
        (_("Unsubscribed"), report.unsubscribes, rates["unsubscribes"]),
    ]


def _csv(name: str, report: stats.Report) -> StreamingHttpResponse:
    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def lines() -> Any:
        yield writer.writerow([_("Figure"), _("Count"), _("Rate")])
        for label, count, share in _rows(report):
            yield writer.writerow(
                [label, count, "" if share is None else f"{share * 100:.2f}%"]
            )
        yield writer.writerow([])
        yield writer.writerow([_("Link"), _("Clicked (unique)"), _("Clicks (total)")])
        for link in report.links:
            yield writer.writerow([spreadsheet_safe(link.url), link.unique, link.total])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _render(
    request: HttpRequest,
    *,
    title: str,
    deliveries: QuerySet[Delivery],
    export_name: str,
    mailing: Mailing,
    attempt: Attempt | None = None,
) -> HttpResponseBase:
    report = stats.report(deliveries)
    if request.GET.get("export") == "csv":
        return _csv(export_name, report)
    context = {
        **admin.site.each_context(request),
        "title": title,
        "report": report,
        "rows": [
            (label, count, percent(share)) for label, count, share in _rows(report)
        ],
        "chart": _chart(report),
        "mailing": mailing,
        "attempt": attempt,
        "opts": Mailing._meta,
    }
    return TemplateResponse(request, "deliverability/admin/report.html", context)


def _visible_mailing(user: Any, pk: int) -> Mailing | None:
    return selectors.visible_mailings(user).filter(pk=pk).first()


def _visible_attempt(user: Any, pk: int) -> Attempt | None:
    if not selectors.may_list_attempts(user):
        return None
    return (
        selectors.visible_attempts(user)
        .select_related("mailing__message")
        .filter(pk=pk)
        .first()
    )


def may_see_report(user: Any, model: type[Mailing | Attempt], pk: int) -> bool:
    """Whether `user` would see the report of this mailing or attempt (the rule of
    the views below; the Report button asks it too)."""
    if model is Attempt:
        return _visible_attempt(user, pk) is not None
    return _visible_mailing(user, pk) is not None


def mailing_report(request: HttpRequest, pk: int) -> HttpResponseBase:
    mailing = _visible_mailing(request.user, pk)
    if mailing is None:
        raise Http404(_("There is no such mailing."))
    return _render(
        request,
        title=_("Report: %(mailing)s") % {"mailing": mailing},
        deliveries=Delivery.objects.filter(attempt__mailing_id=mailing.pk),
        export_name=f"mailing-{mailing.pk}-report",
        mailing=mailing,
    )


def attempt_report(request: HttpRequest, pk: int) -> HttpResponseBase:
    attempt = _visible_attempt(request.user, pk)
    if attempt is None:
        raise Http404(_("There is no such attempt."))
    return _render(
        request,
        title=_("Report: %(attempt)s") % {"attempt": attempt},
        deliveries=Delivery.objects.filter(attempt_id=attempt.pk),
        export_name=f"attempt-{attempt.pk}-report",
        mailing=attempt.mailing,
        attempt=attempt,
    )


def signals(request: HttpRequest) -> HttpResponse:
    """Managers: site-wide rates and the owners over the abuse limits."""
    if not permissions.sees_all(request.user, Mailing):
        raise PermissionDenied
    site = stats.site_rates()
    context = {
        **admin.site.each_context(request),
        "title": _("Deliverability"),
        "rows": [(label, count, percent(share)) for label, count, share in _rows(site)],
        "owners": [
            (owner, percent(owner.hard_bounce_rate), percent(owner.complaint_rate))
            for owner in stats.owners_over_limits()
        ],
        "hard_limit": stats.HARD_BOUNCE_LIMIT * 100,
        "complaint_limit": stats.COMPLAINT_LIMIT * 100,
    }
    return TemplateResponse(request, "deliverability/admin/signals.html", context)


def urls() -> list[Any]:
    from django.urls import path

    view = admin.site.admin_view
    return [
        path("mailing/<int:pk>/", view(mailing_report), name="report_mailing"),
        path("attempt/<int:pk>/", view(attempt_report), name="report_attempt"),
        path("signals/", view(signals), name="report_signals"),
    ]
