"""Admin pieces of the client import and export: the upload page, the sample file,
the job's pages (its preview, then its progress and result)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from import_export.formats.base_formats import CSV, XLSX
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from apps.audiences import selectors as audience_selectors
from apps.audiences.models import ClientList
from apps.core import permissions
from apps.core.http import AuthenticatedHttpRequest
from apps.mailings import import_files, import_jobs, imports, selectors
from apps.mailings.import_forms import ImportPreviewForm, posted_reading
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


SAMPLE_CSV = (
    "email,full_name,comment,city\r\n"
    "ann@example.org,Ann Smith,met at the fair,Berlin\r\n"
    "ivan@example.org,Иван Петров,,Москва\r\n"
)


def _int(data: Any, key: str) -> int | None:
    value = data.get(key) or ""
    return int(value) if value.isdigit() and len(value) < 12 else None


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
                "import/sample.csv",
                self.admin_site.admin_view(self.import_sample_view),
                name="mailings_client_import_sample",
            ),
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
                job = import_jobs.client_import_upload(
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
        if job.status == ClientImport.Status.PREVIEW:
            return self._import_preview(request, job)
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

    def _import_preview(
        self, request: AuthenticatedHttpRequest, job: ClientImport
    ) -> HttpResponse:
        """The preview of an uploaded file, before anything is written: how it is
        read (encoding and delimiter of a CSV, detected; each column's field), its
        first rows, what importing it would do (counts of new / updated /
        unchanged / invalid / repeated / suppressed rows, the first problems), and
        the list the clients join. "Update the preview" draws it again with the
        changes; "Import" queues the job. Template
        ``mailings/admin/client_import_preview.html``."""
        # Only the uploader checks and starts their import: a superuser who may
        # follow anyone's job must not pour someone's file into their own list.
        if job.owner_id != request.user.pk or not self.has_import_permission(request):
            raise PermissionDenied
        is_csv = job.file_format == ClientImport.Format.CSV
        lists = audience_selectors.owner_lists(request.user)
        data = request.POST if request.method == "POST" else None
        reading, changed = posted_reading(data or {}) if is_csv else (None, False)
        problem = ""
        try:
            head = import_jobs.job_head(job, reading)
        except import_files.ImportFileError as exc:
            # The reading the person chose fails (a wrong encoding): say so and
            # show the file as detected.
            problem = str(exc)
            changed = True
            try:
                head = import_jobs.job_head(job)
            except import_files.ImportFileError as exc:
                return self._import_unreadable(request, job, str(exc))
        bound = data is not None and not changed
        form = ImportPreviewForm(
            data if bound else None, head=head, lists=lists, is_csv=is_csv
        )
        options, client_list = head.options, None
        if bound and form.is_valid():
            if data is not None and "_import" in data:
                return self._import_confirm(request, job, form)
            options, client_list = form.options(), form.cleaned_data["client_list"]
        elif bound and (list_id := _int(data, "client_list")) is not None:
            client_list = lists.filter(pk=list_id).first()
        preview = None
        if not problem:
            try:
                preview = import_jobs.job_preview(
                    job, options=options, client_list=client_list
                )
            except import_files.ImportFileError as exc:
                problem = str(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Check the import"),
            "opts": self.opts,
            "job": job,
            "form": form,
            "head": head,
            "preview": preview,
            "problem": problem,
            "encoding_name": import_files.ENCODING_NAMES.get(head.options.encoding),
            "is_csv": is_csv,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, ["mailings/admin/client_import_preview.html"], context
        )

    def _import_confirm(
        self,
        request: AuthenticatedHttpRequest,
        job: ClientImport,
        form: ImportPreviewForm,
    ) -> HttpResponse:
        client_list: ClientList | None = form.cleaned_data["client_list"]
        name = form.cleaned_data["new_list"].strip()
        try:
            with transaction.atomic():
                if name:
                    client_list = ClientList.objects.create(
                        owner=request.user, name=name
                    )
                    permissions.owner_permissions_grant(
                        owner=request.user, objects=client_list
                    )
                import_jobs.client_import_confirm(
                    job=job, options=form.options(), client_list=client_list
                )
        except import_files.ImportFileError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return HttpResponseRedirect(job.get_absolute_url())

    def _import_unreadable(
        self, request: AuthenticatedHttpRequest, job: ClientImport, problem: str
    ) -> HttpResponse:
        """A stored file that cannot be read at all any more: the job fails with
        the reason, shown on its page."""
        ClientImport.objects.filter(
            pk=job.pk, status=ClientImport.Status.PREVIEW
        ).update(status=ClientImport.Status.FAILED, problem=problem)
        return HttpResponseRedirect(job.get_absolute_url())

    def import_sample_view(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        """A sample file to fill in: the columns the import knows, one attribute
        (city), in UTF-8 with a BOM so that Excel opens it right."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        response = HttpResponse(
            SAMPLE_CSV.encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="clients-sample.csv"'
        return response

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
