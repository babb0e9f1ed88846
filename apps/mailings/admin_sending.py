"""Admin pieces of the sending engine: attempts, their deliveries, "send now"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import TabularInline
from unfold.decorators import action, display

from apps.core import permissions
from apps.core.admin import OwnedModelAdmin
from apps.core.http import AuthenticatedHttpRequest
from apps.core.timezones import local_time_column
from apps.core.validators import parse_id
from apps.deliverability.admin_links import ReportLinkMixin
from apps.mailings import selectors, services, views
from apps.mailings.exports import export_attempts_csv
from apps.mailings.models import Attempt, Delivery, Mailing

if TYPE_CHECKING:
    from django.contrib.admin.options import InlineModelAdmin

    # The admin MailingSendingMixin is mixed into, for the type checker only: at run
    # time the mixin stays a plain class, so MailingAdmin's bases are unchanged.
    _MailingAdminBase = OwnedModelAdmin[Mailing]
else:
    _MailingAdminBase = object


def mailing_filter_id(value: str | None) -> int | None:
    """The mailing a ``?mailing=`` filter names; None without one.

    A value that cannot be an id ("abc", "²", 30 digits) is a bad request: it never
    reaches a query.
    """
    if value is None or value == "":
        return None
    mailing_id = parse_id(value)
    if mailing_id is None:
        raise BadRequest("The mailing filter is not an id.")
    return mailing_id


class _ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # `obj` is the parent, which the parent admin already let this person see.
        return (
            obj is None
            or permissions.can(request.user, "view", obj)
            or permissions.can(request.user, "change", obj)
        )


class AttemptInline(_ReadOnlyInline):
    """The runs of a mailing, newest first, on the mailing's page."""

    model = Attempt
    verbose_name_plural = _("attempts")
    fields = [
        "attempt_link",
        "status",
        "sent_count",
        "failed_count",
        "skipped_count",
        "pending",
        "total_count",
        "server_response",
    ]
    readonly_fields = fields
    ordering = ["-attempted_at"]
    per_page = 10

    @display(description=_("pending"))
    def pending(self, obj: Attempt) -> int:
        return pending_count(obj)

    @display(description=_("attempted at"))
    def attempt_link(self, obj: Attempt) -> str:
        url = reverse("admin:mailings_attempt_change", args=[obj.pk])
        when = date_format(timezone.localtime(obj.attempted_at), "DATETIME_FORMAT")
        return format_html('<a href="{}">{}</a>', url, when)


def pending_count(attempt: Attempt) -> int:
    """Recipients a run has not served yet, from the attempt's own counters (as
    written when it last stopped: an unreachable server leaves them pending)."""
    served = attempt.sent_count + attempt.failed_count + attempt.skipped_count
    return max(0, attempt.total_count - served)


class DeliveryInline(_ReadOnlyInline):
    """The per-recipient ledger of an attempt, with each server reply."""

    model = Delivery
    fields = [
        "email",
        "outcome",
        "server_response",
        "message_id",
        "tries",
        "processed_at",
    ]
    readonly_fields = fields
    ordering = ["pk"]
    per_page = 50


class MailingSendingMixin(_MailingAdminBase):
    """Mixed into MailingAdmin (first in its bases): "send now" and the runs inline.

    "Send now" is added to whatever ``actions_detail`` / ``actions_row`` MailingAdmin
    declares, so both lists combine. Unfold's action links are plain GETs: the link
    opens a confirmation page and only its POST (with CSRF) queues the run.
    """

    send_now_action = "send_now"
    # Also added in __init__, so a MailingAdmin that replaces the list keeps it.
    # Not a row action: a list row cannot hide it for a paused or disabled
    # mailing, and offering it only to refuse it afterwards is what issue 15 is
    # about. It is on the mailing's page, shown only when the mailing can be sent.
    actions_detail = ["send_now"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = list(getattr(self, "actions_detail", None) or [])
        if self.send_now_action not in names:
            self.actions_detail = [*names, self.send_now_action]

    def get_actions_detail(self, request: HttpRequest, object_id: Any) -> Any:
        """No "Send now" button on the page of a mailing that cannot be sent."""
        actions = super().get_actions_detail(request, object_id)
        person = cast(AuthenticatedHttpRequest, request)  # behind the admin's login
        mailing = self._visible_mailing(person, object_id)
        if mailing is not None and send_problem(mailing):
            name = f"mailings_mailing_{self.send_now_action}"
            actions = [a for a in actions if a.action_name != name]
        return actions

    def get_inlines(
        self, request: HttpRequest, obj: Mailing | None
    ) -> list[type[InlineModelAdmin[Any, Any]]]:
        inlines = list(super().get_inlines(request, obj))
        if obj is not None and AttemptInline not in inlines:
            inlines.append(AttemptInline)
        return inlines

    def _visible_mailing(
        self, request: AuthenticatedHttpRequest, object_id
    ) -> Mailing | None:
        mailing_id = parse_id(object_id)
        if mailing_id is None:
            return None  # not an id: no such mailing, and no query
        return self.get_queryset(request).filter(pk=mailing_id).first()

    def _sendable_mailing(
        self, request: AuthenticatedHttpRequest, object_id
    ) -> Mailing:
        mailing = self._visible_mailing(request, object_id)
        if mailing is None:
            raise Http404(gettext("No such mailing."))
        if not permissions.can(request.user, "send", mailing):
            raise PermissionDenied
        return mailing

    def has_send_now_permission(
        self, request: AuthenticatedHttpRequest, object_id=None
    ) -> bool:
        """Owners (and superusers) send; managers, who only view, do not."""
        if object_id is None:
            return permissions.may(request.user, "send", Mailing)
        mailing = self._visible_mailing(request, object_id)
        if mailing is None:
            # Someone else's mailing: the view answers 404 like the change page
            # does, rather than a 403 that would confirm it exists.
            return True
        return permissions.can(request.user, "send", mailing)

    @action(
        description=_("Send now"),
        url_path="send-now",
        permissions=["send_now"],
        icon="send",
    )
    def send_now(self, request: AuthenticatedHttpRequest, object_id) -> HttpResponse:
        mailing = self._sendable_mailing(request, object_id)
        change_url = reverse("admin:mailings_mailing_change", args=[mailing.pk])
        problem = send_problem(mailing)
        # A one-off mailing that went out already is sent again only when the
        # page that said so was answered (a POST without it asks first).
        again = selectors.mailing_state(mailing) == "finished"
        asked = not again or request.POST.get("again") == "yes"
        if request.method == "POST" and (problem or asked):
            if problem:
                messages.error(request, problem)
            else:
                services.mailing_send_now(mailing=mailing)
                messages.success(
                    request,
                    gettext(
                        "The mailing is queued and starts in a few seconds; "
                        "its run appears below."
                    ),
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Send this mailing now?"),
            "mailing": mailing,
            "recipients": mailing.clients.count(),
            "problem": problem,
            "again": again,
            "cancel_url": change_url,
        }
        return TemplateResponse(
            request, "mailings/admin/send_now_confirm.html", context
        )


def send_problem(mailing: Mailing) -> str:
    """Why `mailing` cannot be sent now, in words; empty when it can."""
    if not mailing.is_enabled:
        return gettext(
            "A manager has disabled this mailing; it cannot be sent until a "
            "manager enables it."
        )
    if mailing.is_paused:
        return gettext("This mailing is paused: resume it to send it.")
    if mailing.owner.is_blocked:
        return gettext("The owner is blocked; the mailing cannot be sent.")
    return ""


class AttemptStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*Attempt.Status.choices, ("open", _("in progress"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.filter(finished_at__isnull=True)
        if value in Attempt.Status.values:
            return queryset.filter(status=value)
        return queryset


class VisibleMailingFilter(admin.SimpleListFilter):
    """Only the mailings this person may see are offered (no one else's names)."""

    title = _("mailing")
    parameter_name = "mailing"

    def lookups(self, request, model_admin):
        mailings = (
            selectors.visible_mailings(request.user)
            .select_related("message")
            .order_by("-start_at")[:200]
        )
        return [(str(m.pk), str(m)) for m in mailings]

    def queryset(self, request, queryset):
        mailing_id = mailing_filter_id(self.value())
        if mailing_id is not None:
            return queryset.filter(mailing_id=mailing_id)
        return queryset


@admin.register(Attempt)
class AttemptAdmin(ReportLinkMixin, OwnedModelAdmin[Attempt]):
    report_url_name = "reports:report_attempt"
    list_display = [
        "mailing",
        local_time_column("attempted_at", _("attempted at")),
        "status_label",
        "sent_count",
        "failed_count",
        "skipped_count",
        "pending",
        "total_count",
        "server_response",
    ]
    list_filter = [
        AttemptStatusFilter,
        ("attempted_at", admin.DateFieldListFilter),
        VisibleMailingFilter,
    ]
    list_select_related = ["mailing__message"]
    fields = [
        "mailing",
        "attempted_at",
        "finished_at",
        "status",
        "server_response",
        "total_count",
        "sent_count",
        "failed_count",
        "skipped_count",
        "lease_owner",
        "lease_expires_at",
    ]
    readonly_fields = fields
    inlines = [DeliveryInline]
    show_full_result_count = False
    actions = [export_attempts_csv]
    actions_detail = ["report_detail"]
    change_form_before_template = "mailings/admin/attempt_progress.html"

    @display(description=_("pending"))
    def pending(self, obj: Attempt) -> int:
        return pending_count(obj)

    def get_urls(self) -> list[Any]:
        progress = path(
            "<str:object_id>/progress/",
            self.admin_site.admin_view(views.attempt_progress),
            name="mailings_attempt_progress",
        )
        return [progress, *super().get_urls()]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        attempt_id = parse_id(object_id)
        attempt = (
            self.get_queryset(request).filter(pk=attempt_id).first()
            if attempt_id is not None
            else None
        )
        if attempt is not None and not attempt.is_finished:
            extra_context.update(
                run_progress=selectors.attempt_progress(attempt),
                progress_url=reverse(
                    "admin:mailings_attempt_progress", args=[attempt.pk]
                ),
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    @display(
        description=_("status"),
        label={
            Attempt.Status.SUCCESS: "success",
            Attempt.Status.PARTIAL: "warning",
            Attempt.Status.FAILURE: "danger",
            "": "info",
        },
    )
    def status_label(self, obj: Attempt) -> tuple[str, str]:
        text = obj.get_status_display() if obj.status else gettext("in progress")
        return obj.status, text

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if request.user.is_superuser:
            return fields
        # Which worker holds a run's lease is for operators, not for owners.
        return [f for f in fields if f not in ("lease_owner", "lease_expires_at")]

    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return permissions.may(request.user, "view", Attempt)
        return permissions.can(request.user, "view", obj)
