"""Lists, segments and suppressed addresses in the admin.

What a person sees and may touch is the permission module's answer
(``OwnedModelAdmin``): owners work on their own, managers look (and manage the
site-wide suppressions), editors and strangers see nothing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import (
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from apps.audiences import services
from apps.audiences.forms import SegmentForm, SuppressionFileForm, list_name_to_id
from apps.audiences.models import ClientList, Segment, Subscription, Suppression
from apps.audiences.segments import (
    CONDITIONS,
    clean_rules,
    rules_clients,
    segment_clients,
)
from apps.core import permissions
from apps.core.admin import OwnedModelAdmin, confirmed, render_confirmation
from apps.core.admin_confirm import bulk_action_fields
from apps.core.http import AuthenticatedHttpRequest
from apps.mailings.models import Client

PREVIEW_SIZE = 20


def _client_picker(
    admin_site: admin.AdminSite,
    request: AuthenticatedHttpRequest,
    owner: Any,
    label: Any,
    help_text: Any,
) -> forms.ModelMultipleChoiceField[Client]:
    """An autocomplete of the owner's clients (the client admin answers it, with
    the clients the person may see)."""
    db_field = ClientList._meta.get_field("clients")
    return forms.ModelMultipleChoiceField(
        queryset=Client.objects.filter(owner=owner),
        required=False,
        label=label,
        help_text=help_text,
        widget=AutocompleteSelectMultiple(db_field, admin_site),
    )


@admin.register(ClientList)
class ClientListAdmin(OwnedModelAdmin[ClientList]):
    """Lists with their subscriber counts; a list's page shows its first members
    and adds or removes clients."""

    list_display = ["name", "subscribers", "unconfirmed", "is_public", "created_at"]
    search_fields = ["name"]
    list_filter = ["is_public"]
    fields = ["name", "description", "is_public", "double_opt_in"]
    list_per_page = 50

    # The stored counts (apps.audiences.counters): two integers of the row.
    @display(description=_("subscribers"), ordering="subscriber_count")
    def subscribers(self, obj: ClientList) -> int:
        return obj.subscriber_count

    @display(description=_("unconfirmed"), ordering="unconfirmed_count")
    def unconfirmed(self, obj: ClientList) -> int:
        return obj.unconfirmed_count

    def get_fields(
        self, request: AuthenticatedHttpRequest, obj: ClientList | None = None
    ) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if obj is not None:
            fields += ["members", "public_form"]
            if self.has_change_permission(request, obj):
                fields += ["add_clients", "remove_clients"]
        return list(dict.fromkeys(fields))

    def get_readonly_fields(
        self, request: AuthenticatedHttpRequest, obj: ClientList | None = None
    ) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "members", "public_form"]

    def get_form(
        self,
        request: AuthenticatedHttpRequest,
        obj: ClientList | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        fields = kwargs.get("fields")
        if fields:
            kwargs["fields"] = [
                f for f in fields if f not in ("add_clients", "remove_clients")
            ]
        form: type[forms.ModelForm[Any]] = super().get_form(
            request, obj, change=change, **kwargs
        )
        if obj is None or not self.has_change_permission(request, obj):
            return form
        site, owner = self.admin_site, obj.owner

        class MembersForm(form):  # type: ignore[misc, valid-type]
            add_clients = _client_picker(
                site,
                request,
                owner,
                _("add clients"),
                _("They are subscribed to the list at once."),
            )
            remove_clients = _client_picker(
                site,
                request,
                owner,
                _("remove clients"),
                _("They leave the list (their client records stay)."),
            )

        return MembersForm

    def save_model(
        self,
        request: AuthenticatedHttpRequest,
        obj: ClientList,
        form: Any,
        change: bool,
    ) -> None:
        super().save_model(request, obj, form, change)
        added = form.cleaned_data.get("add_clients")
        removed = form.cleaned_data.get("remove_clients")
        if added:
            services.list_members_add(client_list=obj, clients=added)
        if removed:
            services.list_members_remove(client_list=obj, clients=removed)

    @display(description=_("members"))
    def members(self, obj: ClientList) -> str:
        # The newest members: read backwards along the primary key, so the page
        # costs the same for 100 members as for 100,000 (no sort of them all).
        first = (
            Subscription.objects.filter(client_list=obj)
            .order_by("-pk")
            .values_list("client__email", "client__full_name", "status")[:PREVIEW_SIZE]
        )
        url = reverse("admin:mailings_client_changelist")
        summary = gettext("%(subscribed)d subscribed, %(unconfirmed)d unconfirmed") % {
            "subscribed": obj.subscriber_count,
            "unconfirmed": obj.unconfirmed_count,
        }
        rows = format_html_join(
            "",
            "<li>{} {} <span class='text-base-500'>({})</span></li>",
            ((email, name, _status_label(status)) for email, name, status in first),
        )
        return format_html(
            '<p>{} · <a class="text-primary-600" href="{}?client_list={}">{}</a></p>'
            '<ul class="leading-relaxed mt-2">{}</ul>',
            summary,
            url,
            obj.pk,
            gettext("see them all in the client list"),
            rows,
        )

    @display(description=_("public form"))
    def public_form(self, obj: ClientList) -> str:
        if not obj.is_public:
            return gettext("The list has no public form (tick “public”).")
        try:
            reverse("audiences:subscribe", args=[obj.uuid])
        except NoReverseMatch:
            return gettext("The public form is not installed.")
        from apps.audiences.public import embed_snippet, subscribe_url

        # The snippet is shown as text (escaped) for the owner to copy.
        return format_html(
            '<a class="text-primary-600 public-form-link" href="{0}">{0}</a>'
            '<p class="mt-3 mb-1">{1}</p>'
            '<pre class="embed-snippet whitespace-pre-wrap text-xs p-2 border '
            'border-base-200 rounded-default dark:border-base-700"><code>{2}</code>'
            "</pre>",
            subscribe_url(obj),
            gettext("To put the form on your own site, paste this HTML into a page:"),
            embed_snippet(obj),
        )


def _status_label(status: str) -> str:
    return str(Subscription.Status(status).label)


@admin.register(Segment)
class SegmentAdmin(OwnedModelAdmin[Segment]):
    """Segments: rules edited as rows; the page counts and previews who matches."""

    form = SegmentForm
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    fields = ["name", "rules"]
    list_per_page = 50

    class Media:
        js = ["audiences/segment-preview.js"]

    def get_fields(
        self, request: AuthenticatedHttpRequest, obj: Segment | None = None
    ) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if obj is not None:
            fields.append("matching")
            if not self.has_change_permission(request, obj):
                fields = ["rules_text" if f == "rules" else f for f in fields]
        return list(dict.fromkeys(fields))

    def get_readonly_fields(
        self, request: AuthenticatedHttpRequest, obj: Segment | None = None
    ) -> list[str]:
        return [*super().get_readonly_fields(request, obj), "matching", "rules_text"]

    def get_form(
        self,
        request: AuthenticatedHttpRequest,
        obj: Segment | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        form: type[forms.ModelForm[Any]] = super().get_form(
            request, obj, change=change, **kwargs
        )
        owner = obj.owner if obj is not None else request.user
        preview_url = reverse("admin:audiences_segment_preview")

        class OwnedSegmentForm(form):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                kw.setdefault("owner", owner)
                super().__init__(*args, **kw)
                if "rules" in self.fields:
                    self.fields["rules"].widget.attrs["data-preview-url"] = preview_url

        return OwnedSegmentForm

    @display(description=_("rules"))
    def rules_text(self, obj: Segment) -> str:
        return format_html_join(
            "",
            "<div>{} {} {}</div>",
            (
                (
                    _condition_label(r.get("condition")),
                    r.get("field", ""),
                    r.get("value", ""),
                )
                for r in obj.rules
                if isinstance(r, dict)
            ),
        ) or gettext("All clients")

    @display(description=_("matching clients"))
    def matching(self, obj: Segment) -> str:
        return _preview_html(segment_clients(obj))

    # --- the live count and preview of unsaved rules ---

    def get_urls(self) -> list[Any]:
        preview = path(
            "preview/",
            self.admin_site.admin_view(self.preview_view),
            name="audiences_segment_preview",
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        """POST rows of rules (the form's own fields) → JSON: count and the first
        matching clients of the person's own, or the errors."""
        if request.method != "POST":
            return JsonResponse({"error": "POST only"}, status=405)
        if not permissions.may(request.user, "add", Segment) and not (
            permissions.may(request.user, "change", Segment)
        ):
            raise PermissionDenied
        widget = SegmentForm.base_fields["rules"].widget
        rows = widget.value_from_datadict(request.POST, request.FILES, "rules")
        rows = [list_name_to_id(row, request.user) for row in rows]
        try:
            rules = clean_rules(rows, owner=request.user)
        except ValidationError as error:
            # Rows still being typed: the answer the form shows, not a failed request.
            return JsonResponse({"errors": error.messages})
        clients = rules_clients(rules, owner=request.user)
        count = clients.count()
        return JsonResponse(
            {
                "count": count,
                "count_text": _count_text(count),
                "preview": [str(c) for c in clients.order_by("email")[:PREVIEW_SIZE]],
            }
        )


def _condition_label(name: Any) -> str:
    condition = CONDITIONS.get(name) if isinstance(name, str) else None
    return str(condition.label) if condition else str(name)


def _count_text(count: int) -> str:
    return ngettext("%(count)d client matches", "%(count)d clients match", count) % {
        "count": count
    }


# The segment's page counts at most this many matches (the page then costs the same
# for 1,000 clients as for 100,000); the form's script asks for the exact count.
PAGE_COUNT_CAP = 1_000


def _preview_html(clients: QuerySet[Client]) -> str:
    count = clients.order_by()[: PAGE_COUNT_CAP + 1].count()
    first = clients.order_by("email")[:PREVIEW_SIZE]
    if count > PAGE_COUNT_CAP:
        text = gettext("More than %(count)s clients match") % {
            "count": number_format(PAGE_COUNT_CAP, force_grouping=True)
        }
    else:
        text = _count_text(count)
    return format_html(
        '<p data-segment-count>{}</p><ul class="leading-relaxed mt-2">{}</ul>',
        text,
        format_html_join("", "<li>{}</li>", ((str(c),) for c in first)),
    )


class SuppressionReasonFilter(admin.SimpleListFilter):
    title = _("scope")
    parameter_name = "scope"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, Any]]:
        return [("mine", _("Mine")), ("site", _("Site-wide"))]

    def queryset(self, request: Any, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "mine":
            return queryset.filter(owner=request.user)
        if self.value() == "site":
            return queryset.filter(owner__isnull=True)
        return queryset


class SuppressionForm(forms.ModelForm):
    sitewide = forms.BooleanField(
        label=_("site-wide"),
        required=False,
        help_text=_("Nobody on the site sends to this address (managers only)."),
    )

    class Meta:
        model = Suppression
        fields = ["email", "source"]


@admin.register(Suppression)
class SuppressionAdmin(OwnedModelAdmin[Suppression]):
    """Suppressed addresses: an owner's own (manual entries, imports, recipients'
    unsubscribes — which the owner cannot delete), and the site-wide ones that
    managers add and remove."""

    form = SuppressionForm
    list_display = ["email", "reason", "scope", "source", "created_at"]
    # Newest first along the primary key (created_at order without a sort).
    ordering = ["-pk"]
    list_filter = ["reason", SuppressionReasonFilter]
    search_fields = ["email"]
    fields = ["email", "source"]
    list_per_page = 50
    actions_list = ["import_file"]

    @display(description=_("scope"))
    def scope(self, obj: Suppression) -> str:
        return gettext("Site-wide") if obj.owner_id is None else gettext("Owner’s")

    def _manages_sitewide(self, request: AuthenticatedHttpRequest) -> bool:
        return permissions.sees_all(request.user, Suppression, "manage_sitewide")

    def get_fields(
        self, request: AuthenticatedHttpRequest, obj: Suppression | None = None
    ) -> list[Any]:
        if obj is not None:
            return ["email", "reason", "scope", "source", "created_at"]
        fields = ["email", "source"]
        if self._manages_sitewide(request):
            fields.append("sitewide")
        return fields

    def get_readonly_fields(
        self, request: AuthenticatedHttpRequest, obj: Suppression | None = None
    ) -> list[str]:
        if obj is not None:
            return ["email", "reason", "scope", "source", "created_at"]
        return []

    def has_add_permission(
        self, request: AuthenticatedHttpRequest, *args: object
    ) -> bool:
        return super().has_add_permission(request) or self._manages_sitewide(request)

    def has_change_permission(
        self, request: AuthenticatedHttpRequest, obj: Suppression | None = None
    ) -> bool:
        return False  # an entry is added or removed, never edited

    def has_delete_permission(
        self, request: AuthenticatedHttpRequest, obj: Suppression | None = None
    ) -> bool:
        if obj is None:
            return super().has_delete_permission(request) or self._manages_sitewide(
                request
            )
        if obj.owner_id is None:
            return self._manages_sitewide(request)
        if obj.reason == Suppression.Reason.UNSUBSCRIBED:
            return False  # the recipient's own choice
        return obj.owner_id == request.user.pk and super().has_delete_permission(
            request, obj
        )

    def get_actions(self, request: AuthenticatedHttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            actions["delete_selected"] = (
                self.delete_allowed,
                "delete_selected",
                _("Delete selected entries (the recipients’ unsubscribes stay)"),
            )
        return actions

    def delete_allowed(
        self,
        modeladmin: Any,
        request: AuthenticatedHttpRequest,
        queryset: QuerySet[Suppression],
    ) -> HttpResponse | None:
        """Delete the selected entries this person may remove, after asking; say how
        many stay (recipients' own unsubscribes, site-wide entries for owners)."""
        selected = list(queryset[:1000])
        allowed = [s for s in selected if self.has_delete_permission(request, s)]
        kept = len(selected) - len(allowed)
        if not confirmed(request):
            return render_confirmation(
                request,
                self,
                title=gettext("Delete suppressed addresses"),
                question=gettext(
                    "Delete these entries? Mail to these addresses can go out again."
                ),
                objects=allowed,
                skipped=[s for s in selected if s not in allowed],
                skipped_note=gettext(
                    "These stay: only the recipient can undo their unsubscribe, "
                    "only managers remove site-wide entries."
                ),
                hidden=bulk_action_fields("delete_selected", allowed),
                submit_label=gettext("Delete"),
                danger=True,
            )
        Suppression.objects.filter(pk__in=[s.pk for s in allowed]).delete()
        self.message_user(
            request,
            ngettext(
                "%(count)d entry deleted.", "%(count)d entries deleted.", len(allowed)
            )
            % {"count": len(allowed)},
            messages.SUCCESS,
        )
        if kept:
            self.message_user(
                request,
                ngettext(
                    "%(count)d entry kept: only the recipient can undo their "
                    "unsubscribe, only managers remove site-wide entries.",
                    "%(count)d entries kept: only the recipient can undo their "
                    "unsubscribe, only managers remove site-wide entries.",
                    kept,
                )
                % {"count": kept},
                messages.WARNING,
            )
        return None

    def save_model(
        self,
        request: AuthenticatedHttpRequest,
        obj: Suppression,
        form: Any,
        change: bool,
    ) -> None:
        sitewide = bool(form.cleaned_data.get("sitewide")) and self._manages_sitewide(
            request
        )
        if not sitewide and not super().has_add_permission(request):
            raise PermissionDenied
        entry = services.suppression_add(
            email=obj.email,
            owner=None if sitewide else request.user,
            reason=Suppression.Reason.MANUAL,
            source=obj.source
            or gettext("Added by %(person)s") % {"person": request.user.email},
        )
        obj.pk = entry.pk
        obj.owner = entry.owner

    def log_addition(self, request: Any, obj: Any, message: Any) -> Any:
        return None  # the entry may have existed already; nothing new to log

    # --- the suppression file ---

    def has_import_file_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        return self.has_add_permission(request)

    @action(
        description=_("Import a suppression file"),
        url_path="import-file",
        permissions=["import_file"],
        icon="upload",
    )
    def import_file(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        form = SuppressionFileForm(request.POST or None, request.FILES or None)
        sitewide_allowed = self._manages_sitewide(request)
        if request.method == "POST" and form.is_valid():
            sitewide = sitewide_allowed and request.POST.get("sitewide") == "on"
            if not sitewide and not super().has_add_permission(request):
                raise PermissionDenied
            upload = form.cleaned_data["file"]
            try:
                result = services.suppression_import(
                    owner=None if sitewide else request.user,
                    data=upload.read(),
                    source=gettext("File %(name)s") % {"name": upload.name[:200]},
                )
            except ValidationError as error:
                form.add_error("file", error)
            else:
                self.message_user(
                    request,
                    gettext(
                        "%(added)d addresses added, %(already)d were already "
                        "suppressed, %(invalid)d lines were not e-mail addresses."
                    )
                    % {
                        "added": result.added,
                        "already": result.already,
                        "invalid": len(result.invalid),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:audiences_suppression_changelist")
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import a suppression file"),
            "form": form,
            "sitewide_allowed": sitewide_allowed,
            "opts": self.opts,
            "cancel_url": reverse("admin:audiences_suppression_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "audiences/admin/suppression_import.html", context
        )
