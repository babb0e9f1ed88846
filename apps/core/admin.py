"""Admin base classes that enforce per-object permissions (django-guardian), and the
django-q2 pages restyled with Unfold and kept for superusers.

The admin does not check object permissions by itself: every list,
change/delete/history page, action, autocomplete and raw-id pop-up goes through
``get_queryset`` and ``has_*_permission`` here, which ask ``apps.core.permissions``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_q.tasks import async_task
from guardian.admin import GuardedModelAdminMixin
from unfold.admin import ModelAdmin

from apps.core import deletion, permissions
from apps.core.admin_confirm import (
    bulk_action_fields,
    confirmed,
    render_confirmation,
)
from apps.core.admin_messages import AdminTextsMixin
from apps.core.http import AuthenticatedHttpRequest
from apps.core.validators import parse_id


class SuperuserOnlyAdminMixin(AdminTextsMixin):
    """Pages nobody but a superuser may open (or even see in the menu)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return request.user.is_active and request.user.is_superuser


class PermissionsAdminMixin(AdminTextsMixin):
    """Model-level rights asked of the permission module, for models without owners
    (blog posts, people): the same answers as Django's, from the one place."""

    model: type[Model]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return permissions.may(request.user, "view", self.model) or permissions.may(
            request.user, "change", self.model
        )

    def has_add_permission(self, request: HttpRequest, *args: object) -> bool:
        return permissions.may(request.user, "add", self.model)

    def has_change_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return permissions.may(request.user, "change", self.model)

    def has_delete_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return permissions.may(request.user, "delete", self.model)


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
        if not isinstance(object_list, QuerySet):
            return len(object_list)
        count = object_list.order_by()[: self.cap + 1].count()
        return AtLeast(count) if count > self.cap else count


class OwnedModelAdmin[ModelT: Model](
    AdminTextsMixin, GuardedModelAdminMixin, ModelAdmin
):
    """Objects with an ``owner``: users work on their own, managers only look.

    Guardian's "object permissions" pages are kept for superusers only: its own check
    lets anyone who may change the model grant permissions to anybody.

    Every page of the admin is behind its login, so ``request.user`` is a person
    (``AuthenticatedHttpRequest``), never AnonymousUser.
    """

    model: type[ModelT]
    owner_field = "owner"
    change_form_template = "admin/owned_change_form.html"
    paginator: type[Paginator] = CappedPaginator
    # No second COUNT(*) of everything the person sees ("of N total") on each page.
    show_full_result_count = False

    def _has_owner_field(self) -> bool:
        return any(f.name == self.owner_field for f in self.opts.concrete_fields)

    def _shows_owner(self, request: AuthenticatedHttpRequest) -> bool:
        # Only people who see everybody's objects need to be told whose they are.
        return self._has_owner_field() and permissions.sees_all(
            request.user, self.model
        )

    def get_queryset(self, request: AuthenticatedHttpRequest) -> QuerySet[Any]:
        qs = permissions.visible(request.user, self.model)
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def has_module_permission(self, request: AuthenticatedHttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(
        self, request: AuthenticatedHttpRequest, *args: object
    ) -> bool:
        return permissions.may(request.user, "add", self.model)

    def has_view_permission(
        self, request: AuthenticatedHttpRequest, obj: ModelT | None = None
    ) -> bool:
        if obj is None:
            return permissions.may(request.user, "view", self.model) or permissions.may(
                request.user, "change", self.model
            )
        return permissions.can(request.user, "view", obj) or permissions.can(
            request.user, "change", obj
        )

    def has_change_permission(
        self, request: AuthenticatedHttpRequest, obj: ModelT | None = None
    ) -> bool:
        if obj is None:
            return permissions.may(request.user, "change", self.model)
        return permissions.can(request.user, "change", obj)

    def has_delete_permission(
        self, request: AuthenticatedHttpRequest, obj: ModelT | None = None
    ) -> bool:
        if obj is None:
            return permissions.may(request.user, "delete", self.model)
        return permissions.can(request.user, "delete", obj)

    # --- who owns what, shown to managers and superusers only ---

    def get_list_display(self, request: AuthenticatedHttpRequest) -> list[Any]:
        list_display = list(super().get_list_display(request))
        if self._shows_owner(request) and self.owner_field not in list_display:
            list_display.append(self.owner_field)
        return list_display

    def get_list_select_related(
        self, request: AuthenticatedHttpRequest
    ) -> bool | list[str] | tuple[str, ...]:
        related = super().get_list_select_related(request)
        if self._shows_owner(request) and isinstance(related, list | tuple):
            related = [*related, self.owner_field]
        return related

    def get_search_fields(self, request: AuthenticatedHttpRequest) -> list[str]:
        search_fields = list(super().get_search_fields(request))
        if search_fields and self._shows_owner(request):
            search_fields.append(f"{self.owner_field}__email")
        return search_fields

    def get_readonly_fields(
        self, request: AuthenticatedHttpRequest, obj: ModelT | None = None
    ) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and self._shows_owner(request):
            readonly.append(self.owner_field)
        return readonly

    def get_fields(
        self, request: AuthenticatedHttpRequest, obj: ModelT | None = None
    ) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        if obj is not None and self._shows_owner(request):
            if self.owner_field not in fields:
                fields.insert(0, self.owner_field)
        return fields

    # --- saving ---

    def save_model(
        self,
        request: AuthenticatedHttpRequest,
        obj: ModelT,
        form: object,
        change: bool,
    ) -> None:
        """A new object is the person's, with its owner's object permissions (an
        admin whose objects have a service of their own overrides this)."""
        if not change and not getattr(obj, f"{self.owner_field}_id", None):
            setattr(obj, self.owner_field, request.user)
        super().save_model(request, obj, form, change)
        if not change:
            permissions.owner_permissions_grant(
                owner=permissions.owner_of(obj), objects=obj
            )

    # --- deleting: counts and set-based deletes (apps.core.deletion) ---

    # Up to this many rows are deleted inside the request (under a second);
    # beyond, in a task.
    delete_inline_max = 5_000

    def get_actions(self, request: AuthenticatedHttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            # Django's own walks every related object and checks each one's
            # permission: minutes and a gigabyte for 100,000 clients.
            _, name, description = actions["delete_selected"]
            actions[name] = (OwnedModelAdmin.delete_selected, name, description)
        return actions

    def delete_selected(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        """The changelist's "Delete selected": a page of counts, then one
        set-based delete of what the person may delete among the selection."""
        if not self.has_delete_permission(request):
            raise PermissionDenied
        deletable = permissions.visible(request.user, self.model, "delete").filter(
            pk__in=queryset.order_by().values("pk")
        )
        if not confirmed(request):
            return self._delete_confirmation(request, deletable)
        pks = list(deletable.order_by().values_list("pk", flat=True))
        if len(pks) > self.delete_inline_max:
            user_id, label = request.user.pk, self.opts.label
            ranges = deletion.id_ranges(pks)
            transaction.on_commit(
                lambda: async_task(
                    "apps.core.tasks.objects_delete", user_id, label, ranges
                )
            )
            self.message_user(
                request,
                gettext(
                    "Deleting in the background — %(summary)s. They disappear from "
                    "the list within a minute."
                )
                % {"summary": self._summary_text({self.model: len(pks)})},
                messages.SUCCESS,
            )
            return None
        outcome = deletion.permitted_delete(
            user=request.user, model=self.model, pks=pks
        )
        if outcome.deleted[self.model]:
            self.message_user(
                request,
                gettext("Deleted — %(summary)s.")
                % {"summary": self._summary_text(outcome.deleted)},
                messages.SUCCESS,
            )
        if outcome.kept:
            self.message_user(
                request,
                gettext("%(count)s of the selected were kept: they are in use.")
                % {"count": number_format(outcome.kept, force_grouping=True)},
                messages.WARNING,
            )
        return None

    def _delete_confirmation(
        self, request: AuthenticatedHttpRequest, deletable: QuerySet[Any]
    ) -> HttpResponse | None:
        plan = deletion.deletion_plan(deletable)
        if not plan.counts[self.model]:
            self.message_user(
                request,
                gettext("None of the selected can be deleted by you."),
                messages.WARNING,
            )
            return None
        title = gettext("Delete selected %(model)s") % {
            "model": self.opts.verbose_name_plural
        }
        if plan.blocked:
            return render_confirmation(
                request,
                self,
                title=title,
                question=gettext(
                    "Nothing is deleted: some of the selected are in use. Delete or "
                    "change what uses them first."
                ),
                skipped=[_blocked_line(b) for b in plan.blocked],
                skipped_note=gettext("In use:"),
            )
        # The selection goes back as it came (the changelist wants the page's
        # ticked boxes even when "select all" stands for every filtered row).
        selection: list[tuple[str, object]] = [
            ("action", "delete_selected"),
            *(
                (ACTION_CHECKBOX_NAME, pk)
                for pk in request.POST.getlist(ACTION_CHECKBOX_NAME)
            ),
        ]
        if request.POST.get("select_across") == "1":
            selection.append(("select_across", "1"))
        return render_confirmation(
            request,
            self,
            title=title,
            question=gettext(
                "Delete these, with everything that belongs to them? This cannot "
                "be undone."
            ),
            objects=_summary_lines(plan.counts),
            hidden=[*selection, ("post", "yes")],
            danger=True,
        )

    def _summary_text(
        self, counts: Counter[type[Model]] | dict[type[Model], int]
    ) -> str:
        return "; ".join(line.lower() for line in _summary_lines(counts))

    def get_deleted_objects(
        self, objs: Iterable[ModelT], request: AuthenticatedHttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        """The delete page of an object: what goes with it, counted (a mailing's
        runs may hold 100,000 deliveries), and what stops it (a message in use)."""
        objs = list(objs)
        plan = deletion.deletion_plan(
            self.model._base_manager.filter(pk__in=[obj.pk for obj in objs])
        )
        label = capfirst(self.opts.verbose_name)
        deleted = [f"{label}: {obj}" for obj in objs]
        model_count = {
            str(capfirst(model._meta.verbose_name_plural)): count
            for model, count in plan.counts.items()
            if count and deletion.listed(model)
        }
        # Whoever may delete an object deletes what belongs to it (a mailing's
        # runs): nobody may delete those on their own.
        perms_needed = {
            str(self.opts.verbose_name)
            for obj in objs
            if not self.has_delete_permission(request, obj)
        }
        protected = [
            f"{capfirst(user._meta.verbose_name)}: {user}"
            for blocked in plan.blocked
            for user in blocked.used_by
        ]
        return deleted, model_count, perms_needed, protected

    # --- guardian's object-permission pages: superusers only ---

    def _require_superuser(
        self, request: AuthenticatedHttpRequest, object_pk: str
    ) -> None:
        if not request.user.is_superuser:
            raise PermissionDenied
        if parse_id(object_pk) is None:
            raise Http404  # guardian would query with "abc" and fail with a 500

    def obj_perms_manage_view(
        self, request: AuthenticatedHttpRequest, object_pk: str
    ) -> HttpResponseBase:
        self._require_superuser(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(
        self, request: AuthenticatedHttpRequest, object_pk: str, user_id: str
    ) -> HttpResponseBase:
        self._require_superuser(request, object_pk)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(
        self, request: AuthenticatedHttpRequest, object_pk: str, group_id: str
    ) -> HttpResponseBase:
        self._require_superuser(request, object_pk)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)


def _summary_lines(counts: Counter[type[Model]] | dict[type[Model], int]) -> list[str]:
    """One line per kind of object that goes ("Clients: 100,000")."""
    return [
        f"{capfirst(model._meta.verbose_name_plural)}: "
        f"{number_format(count, force_grouping=True)}"
        for model, count in counts.items()
        if count and deletion.listed(model)
    ]


def _blocked_line(blocked: deletion.Blocked) -> str:
    return gettext("%(object)s — used by %(users)s") % {
        "object": blocked.obj,
        "users": ", ".join(str(user) for user in blocked.used_by),
    }


def view_on_site(
    request: HttpRequest, content_type_id: int, object_id: str
) -> HttpResponseBase:
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


# The admin's front page is the dashboard (templates/admin/index.html), not Django's
# "Site administration".
admin.site.index_title = _("Dashboard")

# django-q2's pages, registered on import.
from apps.core import admin_queue  # noqa: E402, F401

__all__ = [
    "CappedPaginator",
    "OwnedModelAdmin",
    "PermissionsAdminMixin",
    "SuperuserOnlyAdminMixin",
    "bulk_action_fields",
    "confirmed",
    "render_confirmation",
    "view_on_site",
]
