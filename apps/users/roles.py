"""The three groups and their model permissions.

Users hold only "add" at model level; view/change/delete on their own objects come as
object permissions (django-guardian) given when each object is created.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy

USERS = "Users"
MANAGERS = "Managers"
EDITORS = "Content editors"

GROUP_PERMISSIONS: dict[str, list[str]] = {
    USERS: [
        "mailings.add_client",
        "mailings.add_message",
        "mailings.add_mailing",
        "audiences.add_clientlist",
        "audiences.add_segment",
        "audiences.add_suppression",
        "content.add_layout",
        "content.add_senderidentity",
    ],
    MANAGERS: [
        "mailings.view_client",
        "mailings.view_message",
        "mailings.view_mailing",
        "mailings.view_attempt",
        "mailings.view_delivery",
        "mailings.toggle_mailing",
        "audiences.view_clientlist",
        "audiences.view_subscription",
        "audiences.view_segment",
        "audiences.view_suppression",
        "audiences.manage_sitewide_suppression",
        "content.view_layout",
        "content.view_senderidentity",
        "users.view_user",
        "users.block_user",
    ],
    EDITORS: [
        "blog.add_post",
        "blog.change_post",
        "blog.delete_post",
        "blog.view_post",
    ],
}

# What the owner of each object gets on it, as object permissions.
OWNER_PERMISSIONS: dict[str, list[str]] = {
    "client": ["view_client", "change_client", "delete_client"],
    "message": ["view_message", "change_message", "delete_message"],
    "mailing": ["view_mailing", "change_mailing", "delete_mailing"],
    "attempt": ["view_attempt"],
    "clientlist": ["view_clientlist", "change_clientlist", "delete_clientlist"],
    "segment": ["view_segment", "change_segment", "delete_segment"],
    # Deleting is further limited to the owner's manual entries (the admin asks).
    "suppression": ["view_suppression", "delete_suppression"],
    "layout": ["view_layout", "change_layout", "delete_layout"],
    "senderidentity": [
        "view_senderidentity",
        "change_senderidentity",
        "delete_senderidentity",
    ],
}

# The groups' names are data (the permission module looks groups up by them), so they
# stay English in the database and are translated where they are shown.
GROUP_NAMES = {
    USERS: gettext_lazy("Users"),
    MANAGERS: gettext_lazy("Managers"),
    EDITORS: gettext_lazy("Content editors"),
}
# A built-in permission's action, shown after its model ("Clients: adding").
PERMISSION_ACTIONS = {
    "add": gettext_lazy("adding"),
    "change": gettext_lazy("changing"),
    "delete": gettext_lazy("deleting"),
    "view": gettext_lazy("viewing"),
}
# The apps whose permissions a superuser hands out; the rest (guardian, axes,
# django-q2, sessions, …) are never given to anybody.
PERMISSION_APPS = ("mailings", "users", "blog")


def group_display_name(group: Group) -> str:
    """A group's name in the reader's language (another group: as it is called)."""
    name = GROUP_NAMES.get(group.name)
    return str(name) if name is not None else group.name


def permission_display_name(permission: Permission) -> str:
    """ "Clients: adding", "Mailings: Can disable and enable mailings" — translated."""
    model = permission.content_type.model_class()
    if model is None:
        return permission.name
    action, _, model_name = permission.codename.partition("_")
    builtin = PERMISSION_ACTIONS.get(action)
    if builtin is not None and model_name == model._meta.model_name:
        label = str(builtin)
    else:
        label = gettext(permission.name)
    return f"{capfirst(model._meta.verbose_name_plural)}: {label}"


def permission_choices() -> QuerySet[Permission]:
    """The permissions worth handing out: those of our own models, not of the
    object-permission rows that guardian keeps beside them."""
    return (
        Permission.objects.filter(content_type__app_label__in=PERMISSION_APPS)
        .exclude(content_type__model__endswith="objectpermission")
        .select_related("content_type")
    )
