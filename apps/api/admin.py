"""API keys in the admin: made here (the key is shown once), revoked here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from apps.api import selectors, services
from apps.api.models import ApiKey
from apps.core.http import AuthenticatedHttpRequest


@admin.register(ApiKey)
class ApiKeyAdmin(ModelAdmin):
    list_display = [
        "name",
        "shown_prefix",
        "scope",
        "state",
        "last_used_at",
        "created_at",
    ]
    fields = ["name", "scope", "expires_at"]
    readonly_fields_on_change = [
        "shown_prefix",
        "scope",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "created_at",
    ]
    actions = ["revoke_keys"]
    actions_on_top = True

    # --- who ----------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return selectors.visible_api_keys(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return selectors.may_use_api(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return selectors.may_use_api(request.user) and (
            obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()
        )

    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return selectors.may_use_api(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_revoke_keys_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    # --- what ---------------------------------------------------------------------

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return list(self.fields)
        return ["name", *self.readonly_fields_on_change]

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiKey | None = None
    ) -> list[str]:
        return [] if obj is None else list(self.readonly_fields_on_change)

    @display(description=_("key"))
    def shown_prefix(self, obj: ApiKey) -> str:
        return f"ms_{obj.prefix}_…"

    @display(description=_("state"))
    def state(self, obj: ApiKey) -> str:
        if obj.revoked_at is not None:
            return gettext("revoked")
        if obj.expires_at is not None and obj.expires_at <= timezone.now():
            return gettext("expired")
        return gettext("active")

    def save_model(
        self, request: AuthenticatedHttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        _key, token = services.api_key_create(
            owner=request.user, name=obj.name, key=obj
        )
        # Kept on this request's object only, for response_add: never stored.
        obj._shown_token = token  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Your new API key"),
            "key": obj,
            "token": getattr(obj, "_shown_token", ""),
            "list_url": reverse("admin:api_apikey_changelist"),
        }
        response = TemplateResponse(request, "api/admin/key_created.html", context)
        # The key must not linger in any cache.
        response["Cache-Control"] = "no-store"
        return response

    @action(description=_("Revoke the selected keys"), permissions=["revoke_keys"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            services.api_key_revoke(key=key)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", len(keys))
            % {"count": len(keys)},
            messages.SUCCESS,
        )
