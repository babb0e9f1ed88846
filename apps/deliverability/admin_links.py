"""The "Report" button on the mailing and attempt pages (Unfold detail actions)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action

from apps.core.validators import parse_id


class ReportLinkMixin:
    """Adds the ``report_detail`` action; the report page itself checks who may see
    it (apps.deliverability.admin_views)."""

    report_url_name = ""

    @action(description=_("Report"), url_path="report", icon="monitoring")
    def report_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        pk = parse_id(object_id)
        if pk is None:
            raise Http404
        return HttpResponseRedirect(reverse(self.report_url_name, args=[pk]))
