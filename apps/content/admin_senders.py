"""Sender identities and footers in the admin.

Owners add and change their own sender addresses (each verified by a link mailed
to it) and write their footers per language; managers look at identities and
change nothing; nobody but superusers sees anyone else's footers.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from apps.content import verification
from apps.content.forms import FooterTextForm, SenderIdentityForm
from apps.content.models import FooterText, SenderIdentity
from apps.core import permissions
from apps.core.admin import OwnedModelAdmin, confirmed, render_confirmation
from apps.core.http import AuthenticatedHttpRequest


def _with_owner(
    form_class: type[forms.ModelForm[Any]], owner: Any
) -> type[forms.ModelForm[Any]]:
    # mypy takes no base class that is a value (the admin makes the form class for
    # each request).
    class OwnerBoundForm(form_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kw: Any) -> None:
            kw.setdefault("owner", owner)
            super().__init__(*args, **kw)

    return OwnerBoundForm


@admin.register(SenderIdentity)
class SenderIdentityAdmin(OwnedModelAdmin[SenderIdentity]):
    form = SenderIdentityForm
    list_display = ["from_email", "from_name", "reply_to", "verified", "created_at"]
    list_display_links = ["from_email"]
    search_fields = ["from_email", "from_name"]
    fields = ["from_name", "from_email", "reply_to", "verified_at"]
    readonly_fields = ["verified_at"]
    actions = ["resend_verification"]
    actions_detail = ["resend_verification_detail"]

    @display(description=_("verified"), boolean=True)
    def verified(self, obj: SenderIdentity) -> bool:
        return obj.is_verified

    def get_form(
        self,
        request: AuthenticatedHttpRequest,
        obj: SenderIdentity | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        form_class: type[forms.ModelForm[Any]] = super().get_form(
            request, obj, change=change, **kwargs
        )
        owner = obj.owner if obj is not None else request.user
        return _with_owner(form_class, owner)

    def save_model(
        self,
        request: AuthenticatedHttpRequest,
        obj: SenderIdentity,
        form: Any,
        change: bool,
    ) -> None:
        changed_address = isinstance(form, SenderIdentityForm) and (
            form.address_changed()
        )
        if changed_address:
            verification.identity_address_changed(identity=obj)
        super().save_model(request, obj, form, change)
        if changed_address:
            self._send_link(request, obj)

    def _send_link(
        self, request: AuthenticatedHttpRequest, obj: SenderIdentity
    ) -> bool:
        sent = verification.verification_request(
            identity=obj, language=translation.get_language()
        )
        if sent:
            self.message_user(
                request,
                gettext(
                    "A verification link was mailed to %(address)s. Mailings are "
                    "sent from it once the link has been opened."
                )
                % {"address": obj.from_email},
                messages.SUCCESS,
            )
        return sent

    # --- sending the link again ---

    def has_resend_verification_permission(
        self, request: AuthenticatedHttpRequest, object_id: str | None = None
    ) -> bool:
        # People who keep identities of their own (not managers, who only look);
        # each identity is checked again in the handler.
        return permissions.keeps(request.user, SenderIdentity) and permissions.may(
            request.user, "change", SenderIdentity
        )

    has_resend_verification_detail_permission = has_resend_verification_permission

    def _resendable(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[SenderIdentity]
    ) -> QuerySet[SenderIdentity]:
        # Only the person's own: a superuser may change anyone's, but a link for
        # someone else's address would reach them asking to log in as its owner.
        return (
            permissions.visible(request.user, SenderIdentity, "change")
            .filter(pk__in=queryset.order_by().values("pk"), owner=request.user)
            .filter(verified_at__isnull=True)
        )

    @action(
        description=_("Send the verification link again"),
        permissions=["resend_verification"],
    )
    def resend_verification(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[SenderIdentity]
    ) -> None:
        identities = list(self._resendable(request, queryset))
        sent = sum(self._send_link(request, identity) for identity in identities)
        if not identities:
            self.message_user(
                request,
                gettext("None of the selected addresses is waiting for a link."),
                messages.WARNING,
            )
        elif sent < len(identities):
            self.message_user(
                request,
                ngettext(
                    "%(count)d link was sent less than a minute ago: try again later.",
                    "%(count)d links were sent less than a minute ago: try again "
                    "later.",
                    len(identities) - sent,
                )
                % {"count": len(identities) - sent},
                messages.WARNING,
            )

    @action(
        description=_("Send the verification link again"),
        url_path="resend-verification",
        permissions=["resend_verification_detail"],
        icon="forward_to_inbox",
    )
    def resend_verification_detail(
        self, request: AuthenticatedHttpRequest, object_id: str
    ) -> HttpResponse:
        identity = self.get_object(request, str(object_id))
        if identity is None or not permissions.can(request.user, "change", identity):
            raise Http404
        change_url = reverse("admin:content_senderidentity_change", args=[identity.pk])
        if identity.is_verified or identity.owner_id != request.user.pk:
            self.message_user(
                request,
                gettext("%(address)s is not waiting for a verification link.")
                % {"address": identity.from_email},
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        if confirmed(request):
            if not self._send_link(request, identity):
                self.message_user(
                    request,
                    gettext("A link was sent less than a minute ago: try again later."),
                    messages.WARNING,
                )
            return HttpResponseRedirect(change_url)
        return render_confirmation(
            request,
            self,
            title=gettext("Send the verification link again"),
            question=gettext("Mail a new verification link to %(address)s?")
            % {"address": identity.from_email},
            objects=[identity],
            hidden=[("post", "yes")],
            submit_label=gettext("Send"),
            cancel_url=change_url,
        )


@admin.register(FooterText)
class FooterTextAdmin(OwnedModelAdmin[FooterText]):
    """An owner's footers, one per language: their own setting, nobody else's."""

    form = FooterTextForm
    list_display = ["language", "excerpt", "updated_at"]
    list_display_links = ["language"]
    fields = ["language", "text"]

    @display(description=_("text"))
    def excerpt(self, obj: FooterText) -> str:
        return format_html("{}", Truncator(obj.text).chars(80))

    def has_add_permission(
        self, request: AuthenticatedHttpRequest, *args: object
    ) -> bool:
        return permissions.keeps(request.user, FooterText) or permissions.sees_all(
            request.user, FooterText, "add"
        )

    def get_form(
        self,
        request: AuthenticatedHttpRequest,
        obj: FooterText | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[Any]]:
        form_class: type[forms.ModelForm[Any]] = super().get_form(
            request, obj, change=change, **kwargs
        )
        owner = obj.owner if obj is not None else request.user
        return _with_owner(form_class, owner)

    def save_model(
        self,
        request: AuthenticatedHttpRequest,
        obj: FooterText,
        form: Any,
        change: bool,
    ) -> None:
        # No per-object permission rows: a footer is its owner's alone (the
        # permission module knows it as unguarded).
        if not change and not obj.owner_id:
            obj.owner = request.user
        obj.save()
