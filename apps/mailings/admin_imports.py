"""Admin pieces of the client import and export: the upload page, the job's pages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from import_export.formats.base_formats import CSV, XLSX
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from apps.core import permissions
from apps.core.http import AuthenticatedHttpRequest
from apps.mailings import import_files, import_jobs, imports, selectors
from apps.mailings.models import Client, ClientImport
from apps.mailings.resources import ClientResource

if TYPE_CHECKING:
    from import_export.admin import ImportExportMixin

    from apps.core.admin import OwnedModelAdmin

    # The admin ClientImportAdminMixin is mixed into, for the type checker only: at
    # run time the mixin stays a plain class, so ClientAdmin's bases are unchanged.
    class _ClientAdminBase(ImportExportMixin, OwnedModelAdmin[Client]):
        pass

else:
    _ClientAdminBase = object


class ClientImportAdminMixin(_ClientAdminBase):
    """Mixed into ClientAdmin (before ``ImportExportMixin`` in its bases): import
    (CSV, XLSX) as a background job with its own status page, and export of the
    clients a person sees."""

    resource_classes = [ClientResource]
    formats = [CSV, XLSX]
    import_form_class = ImportForm
    export_form_class = ExportForm
    import_template_name = "mailings/admin/client_import.html"

    def has_import_permission(self, request: AuthenticatedHttpRequest) -> bool:
        # People who keep clients (and superusers); managers only look.
        return permissions.may(request.user, "add", Client)

    def has_export_permission(self, request: AuthenticatedHttpRequest) -> bool:
        # Whoever sees the list exports it: the export's queryset is the list's
        # (get_export_queryset -> get_queryset -> selectors), so a user exports only
        # their own clients and a manager, who may view everyone's, all of them.
        return request.user.is_active and self.has_view_permission(request)

    def init_request_context_data(self, request: Any, form: Any) -> dict[str, Any]:
        context = super().init_request_context_data(request, form)
        context["fields_list"] = [
            (resource.get_display_name(), resource.field_labels())
            for resource in self.resource_classes
        ]
        return context

    def get_urls(self) -> list[Any]:
        jobs = [
            path(
                "import/<int:job_id>/",
                self.admin_site.admin_view(self.import_status_view),
                name="mailings_client_import_status",
            ),
            path(
                "import/<int:job_id>/progress/",
                self.admin_site.admin_view(self.import_progress_view),
                name="mailings_client_import_progress",
            ),
        ]
        return [*jobs, *super().get_urls()]

    def import_action(
        self, request: AuthenticatedHttpRequest, **kwargs: Any
    ) -> HttpResponse:
        """The import page: upload a file, which is checked, stored and imported by
        a task (``apps.mailings.import_jobs``); then the job's page shows its
        progress."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_import_form(request)
        if request.method == "POST" and form.is_valid():
            file_format = self.get_import_formats()[int(form.cleaned_data["format"])]
            try:
                job = import_jobs.client_import_start(
                    owner=request.user,
                    upload=form.cleaned_data["import_file"],
                    file_format="xlsx" if file_format is XLSX else "csv",
                )
            except import_files.ImportFileError as exc:
                form.add_error("import_file", str(exc))
            else:
                return HttpResponseRedirect(job.get_absolute_url())
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import clients"),
            "form": form,
            "opts": self.opts,
            "media": self.media + form.media,
            "rules": _columns_as_code(str(imports.IMPORT_RULES)),
            "limits": import_files.ImportLimits.from_settings(),
            "recent_imports": selectors.visible_client_imports(request.user).filter(
                owner=request.user
            )[:5],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    def _import_job(
        self, request: AuthenticatedHttpRequest, job_id: int
    ) -> ClientImport:
        # Only the person who uploaded the file (and superusers): 404 for anyone
        # else, who then cannot even learn that the job exists.
        job = selectors.visible_client_imports(request.user).filter(pk=job_id).first()
        if job is None:
            raise Http404
        return job

    def import_status_view(
        self, request: AuthenticatedHttpRequest, job_id: int
    ) -> HttpResponse:
        """One import's progress, then its result: a finished import goes on to
        the client list with its counts, a refused one lists its problems here.
        Template ``mailings/admin/client_import_status.html``; context: ``job``,
        ``report``, ``progress`` (see ``import_jobs.job_progress``)."""
        job = self._import_job(request, job_id)
        progress = import_jobs.job_progress(job)
        if job.status == ClientImport.Status.DONE:
            self.message_user(request, progress["text"], messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:mailings_client_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import of clients"),
            "opts": self.opts,
            "job": job,
            "report": import_jobs.job_report(job),
            "progress": progress,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, ["mailings/admin/client_import_status.html"], context
        )

    def import_progress_view(
        self, request: AuthenticatedHttpRequest, job_id: int
    ) -> JsonResponse:
        """What the status page polls: ``import_jobs.job_progress`` as JSON."""
        job = self._import_job(request, job_id)
        response = JsonResponse(import_jobs.job_progress(job))
        response["Cache-Control"] = "no-store"
        return response


def _columns_as_code(rules: str) -> SafeString:
    """The import rules with the file's column names (before the first ";") shown
    as literal names, which they are in every language."""
    columns, sep, rest = conditional_escape(rules).partition(";")
    columns = re.sub(r"\b(email|full_name|comment)\b", r"<code>\1</code>", columns)
    return mark_safe(columns + sep + rest)  # noqa: S308 - escaped above
