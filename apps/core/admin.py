"""Admin base classes that enforce per-object permissions (django-guardian).

The admin does not check object permissions by itself (PITFALLS): every list,
change/delete/history page, action, autocomplete and raw-id pop-up goes through
``get_queryset`` and ``has_*_permission`` here, which ask the app's selectors.
"""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin

from apps.mailings import selectors


class OwnedModelAdmin(ModelAdmin):
    """Objects with an ``owner``: users work on their own, managers only look."""

    owner_field = "owner"

    def _perm(self, action: str) -> str:
        opts = self.opts
        return f"{opts.app_label}.{action}_{opts.model_name}"

    def _is_owner_role(self, request) -> bool:
        # Users hold "add" at model level and everything else per object.
        return request.user.has_perm(self._perm("add"))

    def get_queryset(self, request):
        qs = selectors.visible(request.user, self.model)
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is None:
            return request.user.has_perm(self._perm("view")) or self._is_owner_role(
                request
            )
        return selectors.can(request.user, "view", obj) or selectors.can(
            request.user, "change", obj
        )

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is None:
            return request.user.has_perm(self._perm("change")) or self._is_owner_role(
                request
            )
        return selectors.can(request.user, "change", obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is None:
            return request.user.has_perm(self._perm("delete")) or self._is_owner_role(
                request
            )
        return selectors.can(request.user, "delete", obj)

    def save_model(self, request, obj, form, change):
        if not change and not getattr(obj, f"{self.owner_field}_id", None):
            setattr(obj, self.owner_field, request.user)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change:
            from apps.mailings.services import object_created

            object_created(obj=form.instance)


__all__ = ["OwnedModelAdmin", "admin"]
