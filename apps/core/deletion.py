"""Deleting many objects at once: a few statements per chunk of rows, never one
object at a time.

Django's own delete (and with it the admin's "Delete selected") loads every object
and every related object into memory, and the admin checks permissions object by
object: 100,000 clients took minutes and a gigabyte. Here the rows are walked by
relation instead — for each relation one ``DELETE`` (cascade), one ``UPDATE``
(set null) or one ``EXISTS`` (protect, restrict) — from the leaves up, in
transactions of ``CHUNK`` rows so that on SQLite other writers wait a moment at
most. The object-permission rows of deleted objects go with them, as every other
cascading relation does.

What is deliberately not done: Django's ``pre_delete``/``post_delete`` signals are
not sent per object (that is the cost this avoids); ``objects_deleted`` is sent
once per chunk instead, with the ids, for whoever must clean up after them. There
is no admin history entry per deleted object either.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachalot.api import cachalot_disabled
from django.db import connection, models, transaction
from django.db.models import Model, QuerySet
from django.db.models.deletion import get_candidate_relations_to_delete
from django.dispatch import Signal
from guardian.models.models import BaseObjectPermission

from apps.core import permissions

# Rows per transaction. On SQLite (one writer at a time) 2,000 clients take about a
# quarter of a second, so other writers wait that long at most; 5,000 made the
# whole delete only ~8 % faster and held the lock 0.6-0.8 s. Well under SQLite's
# limit on query parameters (32,766).
CHUNK = 2_000

# Between two chunks on SQLite: a writer that found the database locked retries
# after sleeping up to 100 ms (SQLite's busy handler), so without a pause as long
# as that the next chunk takes the lock again first and the writer starves.
SQLITE_PAUSE = 0.1

# Sent after each chunk is deleted (inside its transaction): sender is the model,
# `pks` the ids of the rows that went.
objects_deleted = Signal()


@dataclass(frozen=True)
class Blocked:
    """An object that cannot go because others still point at it."""

    obj: Model
    used_by: list[Model]


@dataclass
class Plan:
    """What deleting a selection would take with it, counted by the database."""

    counts: Counter[type[Model]] = field(default_factory=Counter)
    blocked: list[Blocked] = field(default_factory=list)


@dataclass
class Outcome:
    deleted: Counter[type[Model]] = field(default_factory=Counter)
    kept: int = 0  # selected, but in use or no longer permitted


def _relations(model: type[Model]) -> Iterator[tuple[type[Model], str, Any]]:
    """(related model, its foreign key's name, on_delete) for every relation that
    deleting `model`'s rows affects — the same list Django's collector walks."""
    if any(hasattr(f, "bulk_related_objects") for f in model._meta.private_fields):
        raise NotImplementedError(f"{model.__name__} has generic relations.")
    for relation in get_candidate_relations_to_delete(model._meta):
        # Reverse one-to-one and one-to-many relations: each has these two.
        assert isinstance(relation, models.ForeignObjectRel)
        on_delete = relation.on_delete
        if on_delete is models.DO_NOTHING:
            continue
        related = relation.related_model
        assert isinstance(related, type)
        yield related, relation.field.name, on_delete


def _blocking(on_delete: Any) -> bool:
    # RESTRICT is treated like PROTECT: a set-based walk does not prove that the
    # referring row is being deleted along another path.
    return on_delete in (models.PROTECT, models.RESTRICT)


def deletion_plan(queryset: QuerySet[Any], *, examples: int = 10) -> Plan:
    """Count what deleting `queryset` takes with it (per model), and find up to
    `examples` selected objects that others still use (then nothing may go)."""
    plan = Plan()
    _count(queryset, plan, depth=0)
    for related, name, on_delete in _relations(queryset.model):
        if not _blocking(on_delete):
            continue
        users = related._base_manager.filter(**{f"{name}__in": queryset})
        if not users.exists():
            continue
        for obj in queryset.filter(pk__in=users.values(name))[:examples]:
            plan.blocked.append(
                Blocked(obj, list(related._base_manager.filter(**{name: obj})[:3]))
            )
    return plan


def listed(model: type[Model]) -> bool:
    """Whether people are told how many of `model` go: permission rows and
    many-to-many links go with their objects unmentioned (and uncounted)."""
    return not model._meta.auto_created and not issubclass(model, BaseObjectPermission)


def _count(queryset: QuerySet[Any], plan: Plan, *, depth: int) -> None:
    if depth > 10:
        raise RecursionError("Relations nest deeper than expected.")
    if listed(queryset.model):
        plan.counts[queryset.model] += queryset.count()
    for related, name, on_delete in _relations(queryset.model):
        if on_delete is models.CASCADE:
            children = related._base_manager.filter(**{f"{name}__in": queryset})
            _count(children, plan, depth=depth + 1)


def _delete(queryset: QuerySet[Any], outcome: Outcome, *, depth: int) -> None:
    """Delete `queryset`'s rows and what depends on them, leaves first.

    `queryset` must not change while its dependants go (a list of ids, or a
    relation to such a list): a permission filter would, as the permission rows
    are among the dependants.
    """
    if depth > 10:
        raise RecursionError("Relations nest deeper than expected.")
    model = queryset.model
    for related, name, on_delete in _relations(model):
        dependants = related._base_manager.filter(**{f"{name}__in": queryset})
        if on_delete is models.CASCADE:
            _delete(dependants, outcome, depth=depth + 1)
        elif on_delete is models.SET_NULL:
            dependants.update(**{name: None})
        elif _blocking(on_delete):
            if dependants.exists():
                raise models.ProtectedError(
                    f"{related.__name__} rows still use {model.__name__} rows.",
                    set(dependants[:10]),
                )
        else:
            raise NotImplementedError(f"{on_delete!r} on {related.__name__}.{name}")
    # Django's collector would load every row first; the rows of this queryset
    # are final, so one DELETE does it.
    outcome.deleted[model] += queryset._raw_delete(queryset.db)


def _chunks(pks: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(pks), CHUNK):
        yield pks[start : start + CHUNK]


def permitted_delete(*, user: Any, model: type[Model], pks: Sequence[Any]) -> Outcome:
    """Delete the objects of `model` with these ids that `user` may delete, with
    what depends on them; objects still in use are kept.

    The permission is asked again here, before anything goes, so a task that runs
    later deletes nothing the person has lost the right to.
    """
    outcome = Outcome()
    permitted = _permitted(user, model, pks)
    pause = SQLITE_PAUSE if connection.vendor == "sqlite" else 0
    for number, chunk in enumerate(_chunks(pks)):
        if number and pause and not connection.in_atomic_block:
            time.sleep(pause)
        with transaction.atomic():
            allowed = [pk for pk in chunk if pk in permitted]
            for related, name, on_delete in _relations(model):
                if _blocking(on_delete) and allowed:
                    used = set(
                        related._base_manager.filter(
                            **{f"{name}__in": allowed}
                        ).values_list(name, flat=True)
                    )
                    allowed = [pk for pk in allowed if pk not in used]
            outcome.kept += len(chunk) - len(allowed)
            if not allowed:
                continue
            _delete(model._base_manager.filter(pk__in=allowed), outcome, depth=0)
            objects_deleted.send(sender=model, pks=allowed)
    return outcome


def _permitted(user: Any, model: type[Model], pks: Sequence[Any]) -> set[Any]:
    """Which of `pks` the permission module lets `user` delete, in one query.

    Many ids are not put in one query (SQLite takes 32,766 parameters at most), nor
    asked chunk by chunk (the database would read the person's rows once per
    chunk): the ids the person may delete are read once and intersected here.
    """
    permitted = permissions.visible(user, model, "delete").order_by()
    with cachalot_disabled():
        if len(pks) <= CHUNK:
            return set(permitted.filter(pk__in=pks).values_list("pk", flat=True))
        everything = permitted.values_list("pk", flat=True).iterator(chunk_size=10_000)
        return set(everything).intersection(pks)


def id_ranges(pks: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) runs: what a task is given instead of 100,000
    ids (an owner's imported clients are mostly consecutive)."""
    runs: list[tuple[int, int]] = []
    for pk in sorted(pks):
        if runs and pk == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], pk)
        else:
            runs.append((pk, pk))
    return runs


def ids_from_ranges(runs: Sequence[Sequence[int]]) -> list[int]:
    return [pk for first, last in runs for pk in range(first, last + 1)]
