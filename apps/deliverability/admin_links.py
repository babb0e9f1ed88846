"""The "Report" button on the mailing and attempt pages (Unfold detail actions)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from apps.core.validators import parse_id
from apps.deliverability.admin_views import may_see_report


class ReportLinkMixin:
    """Adds the ``report_detail`` action, shown only to whoever may see the report
    (``has_report_permission``: the report pages' own rule, in
    apps.deliverability.admin_views, which check it again)."""

    report_url_name = ""
    model: Any  # the ModelAdmin's: Mailing or Attempt

    def has_report_permission(
        self, request: HttpRequest, object_id: str | None = None
    ) -> bool:
        """Unfold asks this (``permissions=["report"]``) before showing the button
        and before running the action; `object_id` is the page's, as text."""
        pk = parse_id(object_id)
        return pk is not None and may_see_report(request.user, self.model, pk)

    @action(
        description=_("Report"),
        url_path="report",
        icon="monitoring",
        permissions=["report"],
    )
    def report_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        pk = parse_id(object_id)
        if pk is None:
            raise Http404
        return HttpResponseRedirect(reverse(self.report_url_name, args=[pk]))
