"""django-q2's admin pages, restyled with Unfold and kept for superusers."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success
from unfold.admin import ModelAdmin

from apps.core.admin import SuperuserOnlyAdminMixin

# --- django-q2: restyled with Unfold (its own pages are unstyled) and, since whoever
# can edit a Schedule can run any dotted function, for superusers only. ---

_registered = {
    m for m in (Schedule, Success, Failure, OrmQ) if admin.site.is_registered(m)
}
for _model in _registered:
    admin.site.unregister(_model)


@admin.register(Schedule)
class ScheduleAdmin(SuperuserOnlyAdminMixin, q_admin.ScheduleAdmin, ModelAdmin):
    pass


@admin.register(Success)
class SuccessAdmin(SuperuserOnlyAdminMixin, q_admin.TaskAdmin, ModelAdmin):
    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return False


@admin.register(Failure)
class FailureAdmin(SuperuserOnlyAdminMixin, q_admin.FailAdmin, ModelAdmin):
    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return False


class QueueAdmin(SuperuserOnlyAdminMixin, q_admin.QueueAdmin, ModelAdmin):
    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return False


# django-q2 shows its ORM queue only when the ORM broker is in use.
if OrmQ in _registered:
    admin.site.register(OrmQ, QueueAdmin)
