"""Who may see, change, delete or send what: the one place that decides.

Every door asks here — admin classes (``get_queryset`` and ``has_*_permission``),
selectors, the dashboard, exports and the API — so that a list, a per-object check
and a count always agree.

The rules:

- A person's *role* is the set of model-level permissions their groups give them,
  plus the superuser flag. It is read once and kept on the user object for as long
  as that object lives (one request), like Django's own permission cache.
- A model-level permission (``mailings.view_client``) covers every object of the
  model: managers view everything, superusers do everything.
- Objects with an owner are *registered* here by their app (in
  ``AppConfig.ready``): who owns them (a lookup path such as ``mailing__owner``),
  which model permission marks people who keep such objects (``add_client``; an
  attempt's keepers are those who add mailings), and which object permissions
  (django-guardian) the owner is given on each. A person may act on such an object
  when they own it *and* hold the object permission for that action — the list and
  the per-object check are the same query, so they cannot disagree.
- An object that belongs to another one (a delivery to its attempt) is seen by
  whoever sees its parent.
- Anything else answers to model-level permissions alone (blog posts, people).

``send`` is the permission to change a mailing (owners and superusers, not
managers, who only look); ``toggle`` and ``block`` are the managers' own
permissions (``toggle_mailing``, ``block_user``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Exists, Model, OuterRef, Q, QuerySet, Subquery
from guardian.shortcuts import assign_perm
from guardian.utils import get_user_obj_perms_model

from apps.core.db import column

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apps.users.models import User

    # Whoever a request carries: someone signed in, or nobody.
    Person = User | AnonymousUser
else:
    Person = Any

# Actions that are another model permission under a clearer name.
ACTION_PERMISSION = {"send": "change"}


@dataclass(frozen=True)
class Role:
    """What a person may do at model level: their permissions and flags, read once."""

    authenticated: bool
    active: bool
    superuser: bool
    permissions: frozenset[str]

    def holds(self, perm: str) -> bool:
        """A model-level permission ("app_label.codename")."""
        return self.active and (self.superuser or perm in self.permissions)


_ROLE_ATTRIBUTE = "_mailshot_role"


def role(user: Person) -> Role:
    """The person's role, computed on first use and kept on the user object.

    Recomputed when the active or superuser flag of that object changed since."""
    active = bool(user.is_authenticated and user.is_active)
    superuser = bool(user.is_superuser)
    cached: Role | None = getattr(user, _ROLE_ATTRIBUTE, None)
    if cached is not None and (cached.active, cached.superuser) == (
        active,
        superuser,
    ):
        return cached
    permissions: frozenset[str] = frozenset()
    if active and not superuser:
        permissions = frozenset(user.get_all_permissions())
    computed = Role(
        authenticated=bool(user.is_authenticated),
        active=active,
        superuser=superuser,
        permissions=permissions,
    )
    setattr(user, _ROLE_ATTRIBUTE, computed)
    return computed


# --- who owns what (filled by each app in AppConfig.ready) --------------------------


@dataclass(frozen=True)
class Ownership:
    """How objects of one model belong to a person."""

    owner_path: str = ""  # "owner", "mailing__owner"; empty for `via`
    keeper: str = ""  # model permission of the people who keep such objects
    granted: tuple[str, ...] = ()  # object permissions (codenames) of the owner
    via: str = ""  # foreign key to the object this one belongs to
    # False: the owner's `granted` actions need no object-permission row (records
    # such as an import job, which nobody but their owner ever handles).
    guarded: bool = True


_OWNED: dict[type[Model], Ownership] = {}


def register(
    model: type[Model],
    *,
    owner: str = "",
    keeper: str = "",
    granted: Iterable[str] = (),
    via: str = "",
    guarded: bool = True,
) -> None:
    """Declare who owns `model`'s objects (see the module docstring).

    ``keeper`` defaults to the model's "add" permission; ``via`` names the foreign
    key of an object that is seen with its parent and has no owner of its own.
    """
    if bool(owner) == bool(via):
        raise ValueError("Give either an owner path or a parent (via), not both.")
    opts = model._meta
    _OWNED[model] = Ownership(
        owner_path=owner,
        keeper=keeper or f"{opts.app_label}.add_{opts.model_name}",
        granted=tuple(granted),
        via=via,
        guarded=guarded,
    )


def ownership(model: type[Model]) -> Ownership | None:
    return _OWNED.get(model._meta.concrete_model or model)


def _codename(action: str, model: type[Model]) -> str:
    return f"{ACTION_PERMISSION.get(action, action)}_{model._meta.model_name}"


def _perm(action: str, model: type[Model]) -> str:
    return f"{model._meta.app_label}.{_codename(action, model)}"


def _related_model(model: type[Model], name: str) -> type[Model]:
    """The model that `model`'s relation `name` points to (never "self" here: the
    registry names real foreign keys)."""
    related = model._meta.get_field(name).related_model
    assert isinstance(related, type) and issubclass(related, Model)
    return related


def _parent(model: type[Model], owned: Ownership) -> type[Model]:
    return _related_model(model, owned.via)


# --- questions about a whole model --------------------------------------------------


def sees_all(user: Person, model: type[Model], action: str = "view") -> bool:
    """The person may `action` every object of `model` (managers, superusers)."""
    return role(user).holds(_perm(action, model))


def operates(user: Person) -> bool:
    """Whether `user` runs the site itself (health details, operator pages): an
    active superuser."""
    return bool(
        getattr(user, "is_active", False) and getattr(user, "is_superuser", False)
    )


def keeps(user: Person, model: type[Model]) -> bool:
    """The person keeps objects of `model` of their own (the "Users" role)."""
    owned = ownership(model)
    if owned is None:
        return False
    if owned.via:
        return keeps(user, _parent(model, owned))
    return role(user).holds(owned.keeper)


def may(user: Person, action: str, model: type[Model]) -> bool:
    """The person may `action` some objects of `model`: what the admin asks before
    showing a list, a button or an action (each object is then checked by `can`)."""
    if sees_all(user, model, action):
        return True
    owned = ownership(model)
    if owned is None:
        return False
    if owned.via:
        return action == "view" and may(user, "view", _parent(model, owned))
    return keeps(user, model) and _codename(action, model) in owned.granted


# --- questions about objects --------------------------------------------------------


def _owned_by(user: Person, model: type[Model], owner_path: str) -> Q | Exists:
    if "__" not in owner_path:
        return Q(**{owner_path: user})
    # An attempt's owner is its mailing's: checked per row (EXISTS) rather than
    # joined, so that SQLite, which has no statistics, still reads the list newest
    # first along the attempted_at index instead of sorting all of someone's
    # 100,000 attempts for a page of 50.
    relation, field = owner_path.split("__", 1)
    related = _related_model(model, relation)
    return Exists(
        related._default_manager.filter(pk=OuterRef(f"{relation}_id"), **{field: user})
    )


def owned(user: Person, model: type[Model]) -> QuerySet[Any]:
    """The objects `user` owns, by the owner path alone.

    For choices (a mailing's clients and message) and counts: object permissions
    are given to the owner only, and checking the permission row of each of
    100,000 clients would only slow a count down.
    """
    qs: QuerySet[Any] = model._default_manager.all()
    entry = ownership(model)
    if entry is None or entry.via or not user.is_authenticated:
        return qs.none()
    return qs.filter(_owned_by(user, model, entry.owner_path))


def visible(user: Person, model: type[Model], action: str = "view") -> QuerySet[Any]:
    """The objects of `model` that `user` may `action` (view, change, delete, send)."""
    qs: QuerySet[Any] = model._default_manager.all()
    person = role(user)
    if not person.active:
        return qs.none()
    if person.holds(_perm(action, model)):
        return qs
    entry = ownership(model)
    if entry is None:
        return qs.none()
    if entry.via:
        if action != "view":
            return qs.none()
        parents = visible(user, _parent(model, entry), "view")
        # Per row (EXISTS) rather than `attempt IN (every visible attempt)`: a day's
        # deliveries are few, a person's attempts may be 100,000.
        return qs.filter(Exists(parents.filter(pk=OuterRef(f"{entry.via}_id"))))
    codename = _codename(action, model)
    if codename not in entry.granted:
        return qs.none()
    if not entry.guarded:
        return qs.filter(_owned_by(user, model, entry.owner_path))
    # Guardian's get_objects_for_user answers `pk IN (SELECT object ids ...)`: with
    # 100,000 objects the database builds that whole set before ordering and
    # cutting a page. Filtering on the owner lets the (owner, ...) indexes give a
    # page in order, and the permission row is checked per object.
    opts = model._meta
    permission = Permission.objects.filter(
        content_type__app_label=opts.app_label,
        content_type__model=opts.model_name,
        codename=codename,
    ).values("pk")[:1]
    holds = _user_permission_model(model)._default_manager.filter(
        user=user,
        permission_id=Subquery(permission),
        content_object_id=OuterRef("pk"),
    )
    return qs.filter(_owned_by(user, model, entry.owner_path), Exists(holds))


def can(user: Person, action: str, obj: Model) -> bool:
    """May `user` `action` this object? The same answer as `visible`, by definition:
    a model-level permission, or the object is in `visible` (one query)."""
    model = type(obj)
    person = role(user)
    if not person.active:
        return False
    if person.holds(_perm(action, model)):
        return True
    if ownership(model) is None or obj.pk is None:
        return False
    return visible(user, model, action).filter(pk=obj.pk).exists()


def owner_of(obj: Model) -> Any:
    """The person who owns `obj` (by its registered owner path)."""
    entry = ownership(type(obj))
    if entry is None or not entry.owner_path:
        raise LookupError(f"{type(obj).__name__} has no registered owner.")
    value: Any = obj
    for step in entry.owner_path.split("__"):
        value = getattr(value, step)
    return value


def owner_permissions_grant(*, owner: User, objects: Model | Iterable[Model]) -> None:
    """Give `owner` the object permissions their objects come with.

    A queryset or list is assigned in bulk (one INSERT per permission).
    """
    if isinstance(objects, Model):
        model: type[Model] = type(objects)
        target: Model | QuerySet[Any] = objects
    elif isinstance(objects, QuerySet):
        model, target = objects.model, objects
    else:
        items = list(objects)
        if not items:
            return
        model = type(items[0])
        target = model._default_manager.filter(pk__in=[o.pk for o in items])
    entry = ownership(model)
    if entry is None:
        raise LookupError(f"{model.__name__} has no registered owner.")
    for codename in entry.granted:
        # Guardian's hint says one object, but a queryset is its documented bulk
        # form (one INSERT for all of them).
        assign_perm(f"{model._meta.app_label}.{codename}", owner, target)  # type: ignore[arg-type]


def owner_permissions_grant_new(
    *, owner: User, model: type[Model], ids: list[Any]
) -> None:
    """Like `owner_permissions_grant`, for objects just created in bulk.

    They hold no permissions yet, so guardian's per-object check (which loads every
    object once per permission) is skipped and the rows are made by the database
    itself (INSERT ... SELECT, one statement per chunk of ids for all the
    permissions): for 100,000 imported clients this is most of the import's time
    otherwise.
    """
    entry = ownership(model)
    if entry is None:
        raise LookupError(f"{model.__name__} has no registered owner.")
    if not ids:
        return
    opts = model._meta
    permission_ids = list(
        Permission.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            codename__in=entry.granted,
        ).values_list("pk", flat=True)
    )
    perm_opts = _user_permission_model(model)._meta
    q = connection.ops.quote_name
    columns = ", ".join(
        q(column(perm_opts, name)) for name in ("user", "permission", "content_object")
    )
    perm_marks = ", ".join(["%s"] * len(permission_ids))
    chunk = 900  # SQLite's limit on query parameters, with room to spare
    with connection.cursor() as cursor:
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {q(perm_opts.db_table)} ({columns}) "  # noqa: S608
                f"SELECT %s, p.{q('id')}, o.{q(opts.pk.column)} "
                f"FROM {q(opts.db_table)} o, {q(Permission._meta.db_table)} p "
                f"WHERE o.{q(opts.pk.column)} IN ({', '.join(['%s'] * len(part))}) "
                f"AND p.{q('id')} IN ({perm_marks})",
                [owner.pk, *part, *permission_ids],
            )


def _user_permission_model(model: type[Model]) -> type[Model]:
    """Guardian's table of per-object user permissions for `model` (its direct
    foreign-key table). Guardian's hint asks for an object, but its code takes the
    class as well, and here there is no object to give."""
    return get_user_obj_perms_model(model)  # type: ignore[arg-type]
