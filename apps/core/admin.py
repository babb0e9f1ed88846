"""Admin base classes that enforce per-object permissions (django-guardian), and the
django-q2 pages restyled with Unfold and kept for superusers.

The admin does not check object permissions by itself (PITFALLS): every list,
change/delete/history page, action, autocomplete and raw-id pop-up goes through
``get_queryset`` and ``has_*_permission`` here, which ask the app's selectors.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success
from guardian.admin import GuardedModelAdminMixin
from unfold.admin import ModelAdmin

from apps.mailings import selectors


class SuperuserOnlyAdminMixin:
    """Pages nobody but a superuser may open (or even see in the menu)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


class AtLeast(int):
    """A count known only to exceed ``int(self) - 1``: shown as "1,000+"."""

    def __str__(self) -> str:
        return f"{number_format(int(self) - 1, force_grouping=True)}+"


class CappedPaginator(Paginator):
    """Counts at most ``cap`` rows: a list of 100,000 clients costs no full COUNT(*).

    The changelist (and autocomplete) ask the paginator for the number of rows on
    every page; beyond the cap the count reads "1,000+" and the pages stop there —
    search or filter to reach the rest.
    """

    cap = 1_000

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if not hasattr(object_list, "query"):
            return len(object_list)
        count = object_list.order_by()[: self.cap + 1].count()
        return AtLeast(count) if count > self.cap else count


class OwnedModelAdmin(GuardedModelAdminMixin, ModelAdmin):
    """Objects with an ``owner``: users work on their own, managers only look.

    Guardian's "object permissions" pages are kept for superusers only: its own check
    lets anyone who may change the model grant permissions to anybody (PITFALLS).
    """

    owner_field = "owner"
    change_form_template = "admin/owned_change_form.html"
    paginator = CappedPaginator
    # No second COUNT(*) of everything the person sees ("of N total") on each page.
    show_full_result_count = False

    def _perm(self, action: str) -> str:
        opts = self.opts
        return f"{opts.app_label}.{action}_{opts.model_name}"

    def _is_owner_role(self, request) -> bool:
        # Users hold "add" at model level and everything else per object.
        return request.user.has_perm(self._perm("add"))

    def _has_owner_field(self) -> bool:
        return any(f.name == self.owner_field for f in self.opts.concrete_fields)

    def _shows_owner(self, request) -> bool:
        # Only people who see everybody's objects need to be told whose they are.
        return self._has_owner_field() and selectors.sees_everything(
            request.user, self.model
        )

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

    # --- who owns what, shown to managers and superusers only ---

    def get_list_display(self, request):
        list_display = list(super().get_list_display(request))
        if self._shows_owner(request) and self.owner_field not in list_display:
            list_display.append(self.owner_field)
        return list_display

    def get_list_select_related(self, request):
        related = super().get_list_select_related(request)
        if self._shows_owner(request) and isinstance(related, list | tuple):
            related = [*related, self.owner_field]
        return related

    def get_search_fields(self, request):
        search_fields = list(super().get_search_fields(request))
        if search_fields and self._shows_owner(request):
            search_fields.append(f"{self.owner_field}__email")
        return search_fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self._shows_owner(request):
            readonly.append(self.owner_field)
        return readonly

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and self._shows_owner(request):
            if self.owner_field not in fields:
                fields.insert(0, self.owner_field)
        return fields

    # --- saving ---

    def save_model(self, request, obj, form, change):
        if not change and not getattr(obj, f"{self.owner_field}_id", None):
            setattr(obj, self.owner_field, request.user)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change:
            from apps.mailings.services import object_created

            object_created(obj=form.instance)

    # --- guardian's object-permission pages: superusers only ---

    def _require_superuser(self, request) -> None:
        if not request.user.is_superuser:
            raise PermissionDenied

    def obj_perms_manage_view(self, request, object_pk):
        self._require_superuser(request)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        self._require_superuser(request)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        self._require_superuser(request)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)


def render_confirmation(
    request: HttpRequest,
    model_admin: ModelAdmin,
    *,
    title: str,
    question: str,
    objects=(),
    skipped=(),
    skipped_note: str = "",
    hidden: Iterable[tuple[str, object]] = (),
    submit_label: str = "",
    danger: bool = False,
    cancel_url: str = "",
) -> TemplateResponse:
    """A page that asks before an action changes anything, and POSTs (with CSRF).

    Unfold's row and detail actions are plain GET links (PITFALLS): they lead here,
    and only the form on this page acts. Bulk actions come here from the changelist.
    """
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "objects": list(objects),
        "skipped": list(skipped),
        "skipped_note": skipped_note,
        "hidden": list(hidden),
        "submit_label": submit_label or _("Yes, I’m sure"),
        "danger": danger,
        "cancel_url": cancel_url,
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/confirm_action.html", context)


def view_on_site(request: HttpRequest, content_type_id: int, object_id: str):
    """Django's "view on site" redirect (``/admin/r/<ct>/<id>/``), for objects the
    person may see in the admin only.

    Django's own view answers a redirect for any existing object and 404 otherwise,
    which tells anybody whether someone else's mailing #id exists. Mount it before
    ``admin.site.urls`` (wrapped in ``admin.site.admin_view``).
    """
    from django.contrib.contenttypes import views as contenttype_views
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.filter(pk=content_type_id).first()
    model = content_type.model_class() if content_type else None
    if model is None or not admin.site.is_registered(model):
        raise Http404
    model_admin = admin.site.get_model_admin(model)
    obj = model_admin.get_object(request, str(object_id))
    if obj is None or not model_admin.has_view_permission(request, obj):
        raise Http404
    return contenttype_views.shortcut(request, content_type_id, object_id)


def confirmed(request: HttpRequest) -> bool:
    """The POST of a confirmation page (a GET or the first changelist POST asks)."""
    return request.method == "POST" and request.POST.get("post") == "yes"


def bulk_action_fields(action: str, objects: Iterable) -> list[tuple[str, object]]:
    """Hidden fields that send a changelist action back with its selection, confirmed.

    Without ``index`` Django treats the POST as the answer of a confirmation page.
    """
    return [
        ("action", action),
        ("post", "yes"),
        *((admin.helpers.ACTION_CHECKBOX_NAME, obj.pk) for obj in objects),
    ]


# The admin's front page is the dashboard (templates/admin/index.html), not Django's
# "Site administration".
admin.site.index_title = _("Dashboard")


# --- django-q2: restyled with Unfold (its own pages are unstyled) and, since whoever
# can edit a Schedule can run any dotted function, for superusers only (PITFALLS). ---

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
    def has_add_permission(self, request, *args) -> bool:
        return False


@admin.register(Failure)
class FailureAdmin(SuperuserOnlyAdminMixin, q_admin.FailAdmin, ModelAdmin):
    def has_add_permission(self, request, *args) -> bool:
        return False


class QueueAdmin(SuperuserOnlyAdminMixin, q_admin.QueueAdmin, ModelAdmin):
    def has_add_permission(self, request, *args) -> bool:
        return False


# django-q2 shows its ORM queue only when the ORM broker is in use.
if OrmQ in _registered:
    admin.site.register(OrmQ, QueueAdmin)


__all__ = [
    "CappedPaginator",
    "OwnedModelAdmin",
    "SuperuserOnlyAdminMixin",
    "bulk_action_fields",
    "confirmed",
    "render_confirmation",
    "view_on_site",
]
