"""Admin pieces of the sending engine: attempts, their deliveries, "send now"."""

from django.contrib import admin

from apps.core.admin import OwnedModelAdmin
from apps.mailings import selectors
from apps.mailings.models import Attempt


class MailingSendingMixin:
    """Mixed into MailingAdmin: the "send now" action and the attempts inline."""


@admin.register(Attempt)
class AttemptAdmin(OwnedModelAdmin):
    list_display = [
        "mailing",
        "attempted_at",
        "status",
        "sent_count",
        "failed_count",
        "skipped_count",
        "server_response",
    ]
    list_filter = ["status"]
    list_select_related = ["mailing__message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return request.user.has_perm(
                "mailings.view_attempt"
            ) or request.user.has_perm("mailings.add_mailing")
        return selectors.can(request.user, "view", obj)
