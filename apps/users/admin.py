"""People and groups in the admin.

Superusers manage accounts; managers get a read-only list of people with block and
unblock actions on members of ``Users`` (and unconfirmed registrations) only — not on
superusers, managers, content editors or themselves; the rule lives in
``services.user_can_be_blocked_by``. There is no ``username``: Django's and Unfold's
user forms are adapted to the e-mail login.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold import forms as unfold_forms
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from apps.core import permissions
from apps.core.admin import (
    PermissionsAdminMixin,
    SuperuserOnlyAdminMixin,
    bulk_action_fields,
    confirmed,
    render_confirmation,
)
from apps.users import roles, services
from apps.users.models import User


class UserCreationForm(unfold_forms.UserCreationForm):
    """E-mail and password; Unfold's and Django's forms expect a username."""

    class Meta:
        model = User
        fields = ("email",)
        field_classes: dict = {}

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(
                _("A person with this e-mail address already exists."), code="unique"
            )
        return email


class UserChangeForm(unfold_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict = {}

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).strip().lower()
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(
                _("A person with this e-mail address already exists."), code="unique"
            )
        return email


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(SuperuserOnlyAdminMixin, DjangoGroupAdmin, ModelAdmin):
    list_display = ["display_name"]

    @display(description=_("name"), ordering="name")
    def display_name(self, obj: Group) -> str:
        return roles.group_display_name(obj)

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name == "permissions":
            kwargs["queryset"] = roles.permission_choices()
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)


@admin.register(User)
class UserAdmin(PermissionsAdminMixin, DjangoUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = unfold_forms.AdminPasswordChangeForm

    # Everybody here works in the admin (is_staff): a role says more, and "blocked"
    # is worth a mark only on the few who are.
    list_display = [
        "email",
        "first_name",
        "last_name",
        "role",
        "email_confirmed",
        "blocked_badge",
        "date_joined",
    ]
    list_filter = ["is_blocked", "email_confirmed", "groups"]
    superuser_list_filter = [*list_filter, "is_staff", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    readonly_fields = ["is_blocked", "blocked_at", "last_login", "date_joined"]
    show_full_result_count = False

    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name"]}),
        (
            _("Status"),
            {"fields": ["email_confirmed", "is_blocked", "blocked_at", "is_active"]},
        ),
        (
            _("Permissions"),
            {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    # What a manager sees: no password hash, no individual permissions.
    manager_fieldsets = [
        (None, {"fields": ["email"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name"]}),
        (
            _("Status"),
            {"fields": ["email_confirmed", "is_blocked", "blocked_at", "is_active"]},
        ),
        (_("Role"), {"fields": ["role"]}),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "usable_password", "password1", "password2"],
            },
        ),
        (_("Permissions"), {"fields": ["groups"]}),
    ]

    actions = ["block_users", "unblock_users"]
    actions_detail = ["block_detail", "unblock_detail"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return self.superuser_list_filter
        return self.list_filter

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "role"]

    @display(description=_("role"))
    def role(self, obj: User) -> str:
        if obj.is_superuser:
            return gettext("Superuser")
        # From the prefetched groups: no query per row.
        names = sorted(roles.group_display_name(group) for group in obj.groups.all())
        return ", ".join(names) or gettext("No role")

    @display(description=_("blocked"), ordering="is_blocked")
    def blocked_badge(self, obj: User) -> SafeString | str:
        if not obj.is_blocked:
            return ""
        return render_to_string(
            "unfold/helpers/label.html", {"type": "danger", "text": gettext("Blocked")}
        )

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        if db_field.name == "user_permissions":
            kwargs["queryset"] = roles.permission_choices()
        return super().formfield_for_manytomany(db_field, request=request, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return self.manager_fieldsets
        return super().get_fieldsets(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            # Added by a superuser: a person who works in the admin, whose address the
            # superuser vouches for (there is no confirmation mail to wait for).
            obj.is_staff = True
            obj.email_confirmed = True
        super().save_model(request, obj, form, change)

    # --- block / unblock ---

    def _target(self, request, object_id) -> User | None:
        return self.get_object(request, str(object_id))

    @staticmethod
    def _opening(request, name: str) -> bool:
        """Whether this request is the action's own page (not a change page asking
        which buttons to show)."""
        match = request.resolver_match
        return match is not None and match.url_name == f"users_user_{name}_detail"

    def has_block_permission(self, request, object_id=None) -> bool:
        if not permissions.may(request.user, "block", User):
            return False
        if object_id is None:
            return True
        target = self._target(request, object_id)
        return (
            target is not None
            # Opened for someone already blocked (an old link, a second tab): the
            # page says so rather than a 403. The button shows only when it applies.
            and (not target.is_blocked or self._opening(request, "block"))
            and services.user_can_be_blocked_by(user=target, actor=request.user)
        )

    def has_unblock_permission(self, request, object_id=None) -> bool:
        if not permissions.may(request.user, "block", User):
            return False
        if object_id is None:
            return True
        target = self._target(request, object_id)
        return (
            target is not None
            and (target.is_blocked or self._opening(request, "unblock"))
            and services.user_can_be_blocked_by(user=target, actor=request.user)
        )

    def _split(
        self, request, queryset, *, blocked: bool
    ) -> tuple[list[User], list[User]]:
        """Who the action applies to, and who it leaves alone (and is told so)."""
        todo: list[User] = []
        skipped: list[User] = []
        for person in queryset:
            allowed = services.user_can_be_blocked_by(user=person, actor=request.user)
            (todo if allowed and person.is_blocked == blocked else skipped).append(
                person
            )
        return todo, skipped

    def _bulk(self, request, queryset, *, block: bool):
        name = "block_users" if block else "unblock_users"
        todo, skipped = self._split(request, queryset, blocked=not block)
        if not todo:
            self.message_user(
                request,
                gettext("None of the selected people can be blocked by you.")
                if block
                else gettext("None of the selected people can be unblocked by you."),
                messages.WARNING,
            )
            return None
        if confirmed(request):
            if block:
                services.users_block(users=todo, actor=request.user)
            else:
                for person in todo:
                    services.user_unblock(user=person, actor=request.user)
            self.message_user(
                request,
                (
                    gettext("Blocked: %(people)s.")
                    if block
                    else gettext("Unblocked: %(people)s.")
                )
                % {"people": ", ".join(p.email for p in todo)},
                messages.SUCCESS,
            )
            return None
        return render_confirmation(
            request,
            self,
            title=gettext("Block people") if block else gettext("Unblock people"),
            question=gettext(
                "Block these people? They cannot log in and their mailings stop "
                "until they are unblocked."
            )
            if block
            else gettext("Unblock these people? They can log in again."),
            objects=todo,
            skipped=skipped,
            skipped_note=gettext("These stay as they are:"),
            hidden=bulk_action_fields(name, todo),
            submit_label=gettext("Block") if block else gettext("Unblock"),
            danger=block,
        )

    @action(description=_("Block selected people"), permissions=["block"])
    def block_users(self, request, queryset):
        return self._bulk(request, queryset, block=True)

    @action(description=_("Unblock selected people"), permissions=["unblock"])
    def unblock_users(self, request, queryset):
        return self._bulk(request, queryset, block=False)

    def _detail(self, request, object_id, *, block: bool):
        target = self._target(request, object_id)
        if target is None:
            raise Http404
        if not services.user_can_be_blocked_by(user=target, actor=request.user):
            raise PermissionDenied
        change_url = reverse("admin:users_user_change", args=[target.pk])
        if target.is_blocked == block:
            self.message_user(
                request,
                (
                    gettext("%(email)s is already blocked.")
                    if block
                    else gettext("%(email)s is not blocked.")
                )
                % {"email": target.email},
                messages.INFO,
            )
            return HttpResponseRedirect(change_url)
        if confirmed(request):
            if block:
                services.user_block(user=target, actor=request.user)
                text = gettext("%(email)s is blocked.")
            else:
                services.user_unblock(user=target, actor=request.user)
                text = gettext("%(email)s is unblocked.")
            self.message_user(request, text % {"email": target.email}, messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        return render_confirmation(
            request,
            self,
            title=gettext("Block %(email)s") % {"email": target.email}
            if block
            else gettext("Unblock %(email)s") % {"email": target.email},
            question=gettext(
                "Block this person? They cannot log in and their mailings stop "
                "until they are unblocked."
            )
            if block
            else gettext("Unblock this person? They can log in again."),
            objects=[target],
            hidden=[("post", "yes")],
            submit_label=gettext("Block") if block else gettext("Unblock"),
            danger=block,
            cancel_url=change_url,
        )

    @action(
        description=_("Block"),
        url_path="block",
        permissions=["block"],
        icon="block",
        variant=ActionVariant.DANGER,
    )
    def block_detail(self, request, object_id):
        return self._detail(request, object_id, block=True)

    @action(
        description=_("Unblock"),
        url_path="unblock",
        permissions=["unblock"],
        icon="lock_open",
    )
    def unblock_detail(self, request, object_id):
        return self._detail(request, object_id, block=False)
