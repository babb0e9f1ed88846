"""Clients, messages and mailings in the admin.

What a person sees and may touch is decided by ``OwnedModelAdmin`` (selectors and
guardian object permissions); this module only describes the pages and the
managers' "disable / enable" actions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin
from unfold.decorators import action, display

from apps.audiences import selectors as audience_selectors
from apps.audiences import services as audience_services
from apps.audiences.forms import AttributesField, ChooseListForm
from apps.audiences.models import ClientList, Segment, Suppression
from apps.content import senders
from apps.content.admin_preview import ContentPreviewMixin
from apps.content.forms import sender_choices_help
from apps.core import permissions
from apps.core.admin import OwnedModelAdmin, confirmed, render_confirmation
from apps.core.admin_confirm import bulk_action_fields
from apps.core.forms import IdChoicesGuardMixin
from apps.core.http import AuthenticatedHttpRequest
from apps.core.timezones import local_time_column, zone_hint
from apps.core.validators import parse_id
from apps.deliverability.admin_links import ReportLinkMixin
from apps.mailings import exports, selectors, services
from apps.mailings.admin_imports import ClientImportAdminMixin
from apps.mailings.admin_messages import MessageAdmin  # noqa: F401 (registers it)
from apps.mailings.admin_owner import (
    MailingOwnerMixin,
    unsaved_copies,
)
from apps.mailings.admin_sending import MailingSendingMixin, mailing_filter_id
from apps.mailings.models import Attempt, Client, Mailing
from apps.users.models import User

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class ClientMailingFilter(admin.SimpleListFilter):
    """``?mailing=ID``: the clients of one mailing (the link on a mailing's page).

    Offered only for a mailing the person may see; the list itself stays limited
    to the clients they see, so naming someone else's mailing shows nothing new.
    """

    title = _("mailing")
    parameter_name = "mailing"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        mailing_id = mailing_filter_id(self.value())
        if mailing_id is None:
            return []
        mailing = (
            selectors.visible_mailings(request.user)
            .select_related("message")
            .filter(pk=mailing_id)
            .first()
        )
        return [(str(mailing.pk), str(mailing))] if mailing else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        mailing_id = mailing_filter_id(self.value())
        if mailing_id is not None:
            return queryset.filter(mailings=mailing_id)
        return queryset


class ClientListFilter(admin.SimpleListFilter):
    """``?client_list=ID``: the members of one list (the link on a list's page);
    offered only for a list the person may see."""

    title = _("list")
    parameter_name = "client_list"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        lists = permissions.visible(request.user, ClientList)
        if not permissions.sees_all(request.user, ClientList):
            return [
                (str(pk), name) for pk, name in lists.values_list("pk", "name")[:50]
            ]
        list_id = parse_id(self.value())
        found = lists.filter(pk=list_id).first() if list_id else None
        return [(str(found.pk), str(found))] if found else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in (None, ""):
            return queryset
        list_id = parse_id(self.value())
        if list_id is None:
            return queryset.none()
        return queryset.filter(subscriptions__client_list_id=list_id)


def _suppressed() -> Exists:
    """Per client: its owner, or the whole site, suppressed its address."""
    return Exists(
        Suppression.objects.annotate(address=Lower("email")).filter(
            Q(owner_id=OuterRef("owner_id")) | Q(owner__isnull=True),
            address=Lower(OuterRef("email")),
        )
    )


class SuppressedFilter(admin.SimpleListFilter):
    title = _("suppressed")
    parameter_name = "suppressed"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(_suppressed())
        if self.value() == "no":
            return queryset.exclude(_suppressed())
        return queryset


class ClientForm(forms.ModelForm):
    attributes = AttributesField(
        label=_("attributes"),
        help_text=_(
            "Your own fields (city, plan…): used by segments and as "
            "{{ attr.NAME }} in messages."
        ),
    )

    class Meta:
        model = Client
        fields = ["email", "full_name", "comment", "attributes", "is_unsubscribed"]


@admin.register(Client)
class ClientAdmin(ClientImportAdminMixin, ImportExportMixin, OwnedModelAdmin[Client]):
    """Clients, with import (CSV, XLSX) and export of the clients a person sees."""

    form = ClientForm
    list_display = ["email", "full_name", "subscription", "created_at"]
    search_fields = ["email", "full_name"]
    list_filter = [
        "is_unsubscribed",
        SuppressedFilter,
        ClientListFilter,
        ClientMailingFilter,
    ]
    fields = ["email", "full_name", "comment", "attributes", "is_unsubscribed"]
    list_per_page = 50
    # A user may keep 100,000 clients: no second COUNT(*) over all of them.
    show_full_result_count = False
    actions = ["add_to_list", "remove_from_list", "new_mailing"]

    def get_queryset(self, request: AuthenticatedHttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(is_suppressed=_suppressed())

    @display(
        description=_("subscription"),
        ordering="is_unsubscribed",
        label={True: "danger", False: "success"},
    )
    def subscription(self, obj: Client) -> tuple[bool, str]:
        if getattr(obj, "is_suppressed", False) and not obj.is_unsubscribed:
            return True, gettext("Suppressed")
        return obj.is_unsubscribed, (
            gettext("Unsubscribed") if obj.is_unsubscribed else gettext("Subscribed")
        )

    def get_fields(
        self, request: AuthenticatedHttpRequest, obj: Client | None = None
    ) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if obj is not None:
            fields.append("suppression_status")
        return list(dict.fromkeys(fields))

    def get_readonly_fields(
        self, request: AuthenticatedHttpRequest, obj: Client | None = None
    ) -> list[str]:
        readonly = [*super().get_readonly_fields(request, obj), "suppression_status"]
        if obj is not None and audience_services.recipient_opted_out(obj):
            # Their own unsubscribe: only their subscribing again undoes it.
            readonly.append("is_unsubscribed")
        return readonly

    @display(description=_("suppression"))
    def suppression_status(self, obj: Client) -> str:
        entries = list(audience_selectors.client_suppressions(obj))
        if not entries:
            return gettext("Not suppressed.")
        return format_html_join(
            "",
            "<div>{} — {}{}</div>",
            (
                (
                    gettext("site-wide") if e.owner_id is None else gettext("yours"),
                    e.get_reason_display(),
                    f" ({e.source})" if e.source else "",
                )
                for e in entries
            ),
        )

    def get_form(
        self,
        request: AuthenticatedHttpRequest,
        obj: Client | None = None,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        form: type[forms.ModelForm[Any]] = super().get_form(request, obj, **kwargs)
        if obj is None:
            # Model validation (unique e-mail per owner) needs the owner before save.
            owner = request.user

            # mypy takes no base class that is a value (the admin makes this form
            # class for each request).
            class OwnedForm(form):  # type: ignore[misc, valid-type]
                def __init__(self, *args: Any, **kw: Any) -> None:
                    super().__init__(*args, **kw)
                    self.instance.owner = owner

            return OwnedForm
        return form

    # --- bulk actions: lists and a new mailing ---

    def has_add_to_list_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        return permissions.may(request.user, "change", ClientList)

    has_remove_from_list_permission = has_add_to_list_permission

    def has_new_mailing_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        return permissions.may(request.user, "add", Mailing)

    def _list_action(
        self,
        request: AuthenticatedHttpRequest,
        queryset: QuerySet[Client],
        *,
        action_name: str,
        adding: bool,
    ) -> HttpResponse | None:
        clients = queryset.filter(
            pk__in=permissions.visible(request.user, Client, "change").values("pk")
        )
        lists = permissions.visible(request.user, ClientList, "change")
        form = ChooseListForm(request.POST if confirmed(request) else None, lists=lists)
        if confirmed(request) and form.is_valid():
            client_list = form.cleaned_data["client_list"]
            if adding:
                count = audience_services.list_members_add(
                    client_list=client_list, clients=clients
                )
                text = ngettext(
                    "%(count)d client added to “%(list)s”.",
                    "%(count)d clients added to “%(list)s”.",
                    count,
                )
            else:
                count = audience_services.list_members_remove(
                    client_list=client_list, clients=clients
                )
                text = ngettext(
                    "%(count)d client removed from “%(list)s”.",
                    "%(count)d clients removed from “%(list)s”.",
                    count,
                )
            self.message_user(
                request, text % {"count": count, "list": client_list}, messages.SUCCESS
            )
            return None
        selected = request.POST.get("select_across") == "1"
        count = clients.count()
        question = (
            ngettext(
                "Add %(count)d selected client to which list?",
                "Add %(count)d selected clients to which list?",
                count,
            )
            if adding
            else ngettext(
                "Remove %(count)d selected client from which list?",
                "Remove %(count)d selected clients from which list?",
                count,
            )
        ) % {"count": count}
        if selected:
            # All the (filtered) clients: the changelist's address keeps the filters,
            # so the ids need not travel (they may be 100,000).
            # Django acts on a confirmation only with some ids posted: the page's.
            page_ids = request.POST.getlist(ACTION_CHECKBOX_NAME)[:100]
            hidden = [
                *bulk_action_fields(action_name, []),
                *((ACTION_CHECKBOX_NAME, pk) for pk in page_ids),
                ("select_across", "1"),
            ]
        else:
            hidden = bulk_action_fields(action_name, clients.only("pk"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Add to list") if adding else gettext("Remove from list"),
            "question": question,
            "form": form,
            "hidden": hidden,
            "submit_label": gettext("Add") if adding else gettext("Remove"),
            "cancel_url": reverse("admin:mailings_client_changelist"),
            "no_lists_url": reverse("admin:audiences_clientlist_add"),
            "opts": self.opts,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "audiences/admin/choose_list.html", context)

    @action(description=_("Add to list…"), permissions=["add_to_list"])
    def add_to_list(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Client]
    ) -> HttpResponse | None:
        return self._list_action(
            request, queryset, action_name="add_to_list", adding=True
        )

    @action(description=_("Remove from list…"), permissions=["remove_from_list"])
    def remove_from_list(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Client]
    ) -> HttpResponse | None:
        return self._list_action(
            request, queryset, action_name="remove_from_list", adding=False
        )

    # Up to this many clients go into the new mailing's own picks (in its address);
    # more become a new list that the mailing targets.
    NEW_MAILING_PICKS = 100

    @action(
        description=_("New mailing to the selected clients"),
        permissions=["new_mailing"],
    )
    def new_mailing(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Client]
    ) -> HttpResponseRedirect:
        own = queryset.filter(owner=request.user)
        ids = list(own.values_list("pk", flat=True)[: self.NEW_MAILING_PICKS + 1])
        add_url = reverse("admin:mailings_mailing_add")
        if len(ids) <= self.NEW_MAILING_PICKS:
            return HttpResponseRedirect(f"{add_url}?clients={','.join(map(str, ids))}")
        client_list = audience_services.client_list_create(
            owner=request.user,
            name=gettext("Selected clients %(when)s")
            % {"when": timezone.localtime().strftime("%Y-%m-%d %H:%M")},
        )
        count = audience_services.list_members_add(client_list=client_list, clients=own)
        self.message_user(
            request,
            gettext(
                "%(count)d clients were put in the new list “%(list)s”, which the "
                "mailing targets."
            )
            % {"count": count, "list": client_list},
            messages.INFO,
        )
        return HttpResponseRedirect(f"{add_url}?lists={client_list.pk}")


class MailingForm(IdChoicesGuardMixin, forms.ModelForm):
    class Meta:
        model = Mailing
        fields = [
            "message",
            "sender",
            "to_all_clients",
            "lists",
            "segments",
            "clients",
            "start_at",
            "end_at",
            "periodicity",
            "track_opens",
            "track_clicks",
        ]

    def __init__(self, *args: Any, owner: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        if owner is not None:
            # Model validation (one owner's clients only) needs the owner before save.
            if not self.instance.owner_id:
                self.instance.owner = owner
            # Only the owner's own clients and messages are valid choices: a crafted
            # POST with someone else's id fails validation with a form error.
            choices = {
                "clients": selectors.owned_clients(owner),
                "message": selectors.owned_messages(owner),
                "lists": ClientList.objects.filter(owner=owner),
                "segments": Segment.objects.filter(owner=owner),
                # Nobody sends as an address they have not verified.
                "sender": senders.verified_identities(owner),
            }
            for name, queryset in choices.items():
                field = self.fields.get(name)
                if isinstance(field, forms.ModelChoiceField):
                    field.queryset = queryset
            if "sender" in self.fields:
                self.fields["sender"].help_text = sender_choices_help(owner)
        # The person's own zone (User.time_zone), named next to the fields.
        for name in ("start_at", "end_at"):
            if name in self.fields:
                self.fields[name].help_text = zone_hint()
        # A copy not saved yet is checked like a new mailing (its dates may be old).
        self.checks_window = False
        # Tracking: empty means the site's default (MAILSHOT_TRACKING), named here.
        default = gettext("on") if settings.MAILSHOT_TRACKING else gettext("off")
        for name in ("track_opens", "track_clicks"):
            field = self.fields.get(name)
            if field is not None and hasattr(field.widget, "choices"):
                field.widget.choices = [
                    (
                        "unknown",
                        gettext("Site default (%(state)s)") % {"state": default},
                    ),
                    ("true", gettext("Yes")),
                    ("false", gettext("No")),
                ]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        end_at = cleaned.get("end_at")
        dates_changed = {"start_at", "end_at"} & set(self.changed_data)
        new = self.instance._state.adding or self.checks_window
        if end_at and (new or dates_changed) and end_at <= timezone.now():
            # Accepted, it would show "created" and quietly finish a minute later
            # without a single run.
            self.add_error(
                "end_at",
                gettext(
                    "This window is already over: choose an end in the future, "
                    "or the mailing would never send."
                ),
            )
        if not self._targets_anyone(cleaned):
            raise forms.ValidationError(
                gettext(
                    "Choose who receives it: all your clients, a list, a segment "
                    "or some clients."
                ),
                code="no_targets",
            )
        return cleaned

    def _targets_anyone(self, cleaned: dict[str, Any]) -> bool:
        if cleaned.get("to_all_clients") or cleaned.get("lists"):
            return True
        if cleaned.get("segments") or cleaned.get("clients"):
            return True
        if "clients" in self.fields or not self.instance.pk:
            return bool(cleaned.get("add_clients"))
        # Many clients: they are not on the form; the mailing keeps those not removed.
        removed = cleaned.get("remove_clients") or []
        kept = self.instance.clients.exclude(pk__in=[c.pk for c in removed])
        return bool(cleaned.get("add_clients")) or kept.exists()


def _recipients_text(counted: Any) -> str:
    text = ngettext("%(count)d recipient", "%(count)d recipients", counted.sendable) % {
        "count": counted.sendable
    }
    skipped = counted.total - counted.sendable
    if skipped:
        text += " " + ngettext(
            "(%(count)d more unsubscribed or suppressed)",
            "(%(count)d more unsubscribed or suppressed)",
            skipped,
        ) % {"count": skipped}
    return text


def _merged(name: str, own: list[str]) -> list[str]:
    """The sending mixin's actions of one kind, then ours (class attributes would
    otherwise hide one another)."""
    return [*(getattr(MailingSendingMixin, name, None) or ()), *own]


@admin.register(Mailing)
class MailingAdmin(
    ReportLinkMixin,
    MailingOwnerMixin,
    MailingSendingMixin,
    ContentPreviewMixin,
    OwnedModelAdmin[Mailing],
):
    form = MailingForm
    report_url_name = "reports:report_mailing"
    list_display = [
        "__str__",
        "periodicity",
        "state",
        local_time_column("start_at", _("start")),
        local_time_column("end_at", _("end")),
        "next_run",
    ]
    list_filter = ["status", "periodicity", "is_paused", "is_enabled"]
    search_fields = ["message__subject"]
    # Autocomplete: a user may have 100,000 clients, far too many for a <select>.
    autocomplete_fields = ["message", "clients"]
    list_select_related = ["message"]
    # get_absolute_url is this very page: a "view on site" link would go in a circle.
    view_on_site = False

    actions = _merged(
        "actions",
        ["pause_mailings", "resume_mailings", "disable_mailings", "enable_mailings"],
    )
    actions_detail = _merged(
        "actions_detail",
        [
            "pause_detail",
            "resume_detail",
            "duplicate_detail",
            "disable_detail",
            "enable_detail",
            "report_detail",
        ],
    )
    actions_list = ["attempts_report"]

    # --- the report of runs (attempts), streamed as CSV ---

    def get_urls(self) -> list[Any]:
        report = path(
            "attempts-export/",
            self.admin_site.admin_view(self.attempts_export_view),
            name="mailings_mailing_attempts_export",
        )
        count = path(
            "recipient-count/",
            self.admin_site.admin_view(self.recipient_count_view),
            name="mailings_mailing_recipient_count",
        )
        return [report, count, *super().get_urls()]

    class Media:
        js = ["audiences/recipient-count.js"]

    # --- the recipient count shown on the form before saving ---

    def recipient_count_view(self, request: AuthenticatedHttpRequest) -> JsonResponse:
        """GET the form's targets (``to_all_clients``, ``lists``, ``segments``,
        ``clients``, with ``clients_field`` when that field is on the form;
        ``mailing`` for the clients an existing mailing keeps otherwise) → JSON
        ``{"total", "sendable", "text"}``. Only the person's own lists, segments and
        clients count; anything else named is ignored."""
        user = request.user
        if not (
            permissions.may(user, "add", Mailing)
            or permissions.may(user, "change", Mailing)
        ):
            raise PermissionDenied
        owner = user
        query = request.GET
        mailing_id = parse_id(query.get("mailing"))
        mailing = None
        if mailing_id is not None:
            mailing = (
                permissions.visible(user, Mailing, "change")
                .filter(pk=mailing_id)
                .first()
            )
            if mailing is None:
                raise PermissionDenied
            owner = mailing.owner

        def ids(name: str) -> list[int]:
            values = [parse_id(v) for v in query.getlist(name)]
            return [v for v in values if v is not None][:1000]

        picked: Any = ids("clients")
        if mailing is not None and "clients_field" not in query:
            picked = mailing.clients.through.objects.filter(
                mailing_id=mailing.pk
            ).values("client_id")
        targets = audience_selectors.Targets(
            owner_id=owner.pk,
            list_ids=list(
                ClientList.objects.filter(owner=owner, pk__in=ids("lists")).values_list(
                    "pk", flat=True
                )
            ),
            segments=list(Segment.objects.filter(owner=owner, pk__in=ids("segments"))),
            client_ids=picked,
            to_all_clients=query.get("to_all_clients") in ("on", "true", "1"),
        )
        counted = audience_selectors.recipient_count(targets)
        return JsonResponse(
            {
                "total": counted.total,
                "sendable": counted.sendable,
                "text": _recipients_text(counted),
            }
        )

    def has_attempts_report_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        return permissions.may(request.user, "view", Attempt)

    @action(
        description=_("Download the report of runs"),
        url_path="attempts-report",
        permissions=["attempts_report"],
        icon="download",
    )
    def attempts_report(
        self, request: AuthenticatedHttpRequest
    ) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:mailings_mailing_attempts_export"))

    def attempts_export_view(
        self, request: AuthenticatedHttpRequest
    ) -> HttpResponseBase:
        """Every run the person may see (``?mailing=ID`` for one mailing's)."""
        if not self.has_attempts_report_permission(request):
            raise PermissionDenied
        attempts = selectors.visible_attempts(request.user)
        filename = "attempts.csv"
        mailing_id = mailing_filter_id(request.GET.get("mailing"))
        if mailing_id is not None:
            attempts = attempts.filter(mailing_id=mailing_id)
            filename = f"attempts-mailing-{mailing_id}.csv"
        return exports.attempt_report_response(attempts, filename=filename)

    # A mailing may go to 100,000 clients: its page never lists them. Up to
    # CLIENTS_LISTED they are the usual autocomplete field; beyond, the page shows
    # the count with a link to the client list filtered by this mailing, and two
    # autocomplete fields add or remove clients.
    CLIENTS_LISTED = 100
    MANY_CLIENTS_FIELDS = ["clients_summary", "add_clients", "remove_clients"]

    def _clients_count(self, request: AuthenticatedHttpRequest, obj: Mailing) -> int:
        counts: dict[int, int] = request.__dict__.setdefault(
            "_mailing_clients_count", {}
        )
        if obj.pk not in counts:
            counts[obj.pk] = obj.clients.count()
        return counts[obj.pk]

    def _many_clients(
        self, request: AuthenticatedHttpRequest, obj: Mailing | None
    ) -> bool:
        return (
            obj is not None
            and self.has_change_permission(request, obj)
            and self._clients_count(request, obj) > self.CLIENTS_LISTED
        )

    def get_form(
        self,
        request: AuthenticatedHttpRequest,
        obj: Mailing | None = None,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        owner = obj.owner if obj is not None else request.user
        if self._many_clients(request, obj):
            kwargs["form"] = self._many_clients_form(request, owner)
        form_class: type[forms.ModelForm[Any]] = super().get_form(
            request, obj, **kwargs
        )

        # mypy takes no base class that is a value (the admin makes this form class
        # for each request).
        checks_window = obj is not None and obj.pk in unsaved_copies(request)

        class BoundOwnerForm(form_class):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                kw.setdefault("owner", owner)
                super().__init__(*args, **kw)
                self.checks_window = checks_window

        return BoundOwnerForm

    def _many_clients_form(
        self, request: AuthenticatedHttpRequest, owner: User
    ) -> type[MailingForm]:
        db_field = Mailing._meta.get_field("clients")

        def picker(
            label: StrOrPromise, help_text: StrOrPromise
        ) -> forms.ModelMultipleChoiceField[Any]:
            field = self.formfield_for_manytomany(db_field, request)
            assert isinstance(field, forms.ModelMultipleChoiceField)
            field.queryset = selectors.owned_clients(owner)
            field.required = False
            field.label = label
            field.help_text = help_text
            return field

        class ManyClientsMailingForm(MailingForm):
            add_clients = picker(
                _("add clients"), _("Search your clients by e-mail or name.")
            )
            remove_clients = picker(
                _("remove clients"), _("These clients no longer receive it.")
            )

            def _save_m2m(self) -> None:
                # Private in Django, hence missing from its stubs.
                super()._save_m2m()  # type: ignore[misc]
                added = self.cleaned_data.get("add_clients")
                removed = self.cleaned_data.get("remove_clients")
                if added:
                    self.instance.clients.add(*added)
                if removed:
                    self.instance.clients.remove(*removed)

        return ManyClientsMailingForm

    # A read-only page would list every client of the mailing (maybe 100,000 names):
    # people who may only look get a count instead.
    def get_fields(
        self, request: AuthenticatedHttpRequest, obj: Mailing | None = None
    ) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            fields = ["clients_summary" if f == "clients" else f for f in fields]
        elif self._many_clients(request, obj):
            at = fields.index("clients") if "clients" in fields else len(fields)
            fields[at : at + 1] = self.MANY_CLIENTS_FIELDS
        return list(dict.fromkeys(fields))

    def get_readonly_fields(
        self, request: AuthenticatedHttpRequest, obj: Mailing | None = None
    ) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Set by the engine, the owner's switch and the managers', shown to
            # everyone who opens it in words (selectors.mailing_state).
            readonly += ["current_state", "next_run"]
            if not self.has_change_permission(request, obj) or self._many_clients(
                request, obj
            ):
                readonly.append("clients_summary")
        return readonly

    @display(description=_("clients"))
    def clients_summary(self, obj: Mailing) -> str:
        count = obj.clients.count()
        text = ngettext("%(count)d recipient", "%(count)d recipients", count) % {
            "count": count
        }
        url = reverse("admin:mailings_client_changelist")
        return format_html(
            '{} · <a class="text-primary-600" href="{}?mailing={}">{}</a>',
            text,
            url,
            obj.pk,
            gettext("see them in the client list"),
        )

    def save_model(
        self,
        request: AuthenticatedHttpRequest,
        obj: Mailing,
        form: object,
        change: bool,
    ) -> None:
        # What saving a mailing does (the owner's permissions, its next run) is
        # the service's to say; the admin only names the owner of a new one.
        if not change and not obj.owner_id:
            obj.owner = request.user
        resume = change and self.resume_on_save(request, obj)
        services.mailing_save(mailing=obj, resume=resume)
        if resume:
            self.message_user(
                request,
                gettext("The copy is saved and no longer paused."),
                messages.INFO,
            )

    # --- managers: disable / enable (permission mailings.toggle_mailing) ---

    def has_toggle_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        return permissions.may(request.user, "toggle", Mailing)

    def _toggle_target(
        self, request: AuthenticatedHttpRequest, object_id: str, *, enabled: bool
    ) -> bool:
        if not self.has_toggle_permission(request):
            return False
        mailing = self.get_object(request, str(object_id))
        return mailing is not None and mailing.is_enabled != enabled

    def has_disable_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        if object_id is None:
            return self.has_toggle_permission(request)
        return self._toggle_target(request, object_id, enabled=False)

    def has_enable_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        if object_id is None:
            return self.has_toggle_permission(request)
        return self._toggle_target(request, object_id, enabled=True)

    def _set_enabled(
        self,
        request: AuthenticatedHttpRequest,
        mailings: Iterable[Mailing],
        *,
        enabled: bool,
    ) -> int:
        changed = 0
        for mailing in mailings:
            # The action's permission is model-level; each object is checked too.
            if not permissions.can(request.user, "toggle", mailing):
                raise PermissionDenied
            if mailing.is_enabled != enabled:
                services.mailing_set_enabled(mailing=mailing, enabled=enabled)
                changed += 1
        return changed

    def _bulk_toggle(
        self,
        request: AuthenticatedHttpRequest,
        queryset: QuerySet[Mailing],
        *,
        enabled: bool,
    ) -> None:
        changed = self._set_enabled(request, queryset, enabled=enabled)
        text = (
            ngettext(
                "%(count)d mailing enabled.", "%(count)d mailings enabled.", changed
            )
            if enabled
            else ngettext(
                "%(count)d mailing disabled.", "%(count)d mailings disabled.", changed
            )
        )
        self.message_user(request, text % {"count": changed}, messages.SUCCESS)

    @action(description=_("Disable selected mailings"), permissions=["toggle"])
    def disable_mailings(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Mailing]
    ) -> None:
        self._bulk_toggle(request, queryset, enabled=False)

    @action(description=_("Enable selected mailings"), permissions=["toggle"])
    def enable_mailings(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Mailing]
    ) -> None:
        self._bulk_toggle(request, queryset, enabled=True)

    def _detail_toggle(
        self, request: AuthenticatedHttpRequest, object_id: str, *, enabled: bool
    ) -> HttpResponse:
        mailing = self.get_object(request, str(object_id))
        if mailing is None:
            raise Http404
        change_url = reverse("admin:mailings_mailing_change", args=[mailing.pk])
        if confirmed(request):
            self._set_enabled(request, [mailing], enabled=enabled)
            text = (
                gettext("“%(mailing)s” is enabled.")
                if enabled
                else gettext("“%(mailing)s” is disabled.")
            )
            self.message_user(request, text % {"mailing": mailing}, messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return render_confirmation(
            request,
            self,
            title=gettext("Enable mailing") if enabled else gettext("Disable mailing"),
            question=gettext("Enable this mailing? It sends again on its schedule.")
            if enabled
            else gettext("Disable this mailing? It sends nothing until enabled."),
            objects=[mailing],
            hidden=[("post", "yes")],
            submit_label=gettext("Enable") if enabled else gettext("Disable"),
            danger=not enabled,
            cancel_url=change_url,
        )

    @action(
        description=_("Disable"),
        url_path="disable",
        permissions=["disable"],
        icon="pause_circle",
    )
    def disable_detail(
        self, request: AuthenticatedHttpRequest, object_id: str
    ) -> HttpResponse:
        return self._detail_toggle(request, object_id, enabled=False)

    @action(
        description=_("Enable"),
        url_path="enable",
        permissions=["enable"],
        icon="play_circle",
    )
    def enable_detail(
        self, request: AuthenticatedHttpRequest, object_id: str
    ) -> HttpResponse:
        return self._detail_toggle(request, object_id, enabled=True)


# Attempts and "send now" live beside the sending engine.
from apps.mailings import admin_sending  # noqa: E402, F401
