"""Bulk upsert of clients: set-based, like the file import (apps/mailings/imports.py)
and checked by the same row rules, with one report line per row.

Per chunk of rows: one query for the addresses the person already has, one INSERT
of the new clients (plus their object permissions, INSERT ... SELECT) and one UPDATE
of the changed ones; all in one transaction, so a call is saved whole or not at all
(an invalid row is reported and left out, it does not stop the others).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from apps.mailings.imports import ImportReport
from apps.mailings.imports import _clean_row as clean_row
from apps.mailings.models import Client
from apps.mailings.services import grant_owner_permissions_new

CHUNK = 1000  # addresses per lookup (SQLite's limit on query parameters)
# e-mail, full name and comment (None: keep the client's), attributes to merge.
Row = tuple[str, str | None, str | None, dict[str, str]]


def clients_upsert(*, owner: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    wanted: dict[str, int] = {}  # lower-case e-mail -> index of its first row
    cleaned: dict[int, Row] = {}
    for index, row in enumerate(rows):
        check = ImportReport()
        values = clean_row(
            index,
            {
                "email": row.get("email") or "",
                "full_name": row.get("full_name") or "",
                "comment": row.get("comment") or "",
                "attributes": row.get("attributes") or {},
            },
            check,
        )
        result: dict[str, Any] = {
            "index": index,
            "email": str(row.get("email") or "")[:254],
            "status": "invalid",
            "id": None,
            "errors": [],
        }
        results.append(result)
        if values is None:
            result["errors"] = [
                {"field": e.column, "message": e.message} for e in check.errors
            ]
            continue
        email = values[0]
        key = email.lower()
        if key in wanted:
            result["status"] = "duplicate"
            continue
        wanted[key] = index
        full_name = values[1] if row.get("full_name") is not None else None
        comment = values[2] if row.get("comment") is not None else None
        cleaned[index] = (email, full_name, comment, dict(values[3]))

    for attempt in range(3):
        try:
            _write(owner, wanted, cleaned, results)
            break
        except IntegrityError:
            # Another writer added one of these addresses meanwhile: ask again.
            if attempt == 2:
                raise
    counts = {s: 0 for s in ("created", "updated", "unchanged", "duplicate", "invalid")}
    for result in results:
        counts[result["status"]] += 1
    return {
        "created": counts["created"],
        "updated": counts["updated"],
        "unchanged": counts["unchanged"],
        "duplicates": counts["duplicate"],
        "invalid": counts["invalid"],
        "rows": results,
    }


def _write(
    owner: Any,
    wanted: dict[str, int],
    cleaned: dict[int, Row],
    results: list[dict[str, Any]],
) -> None:
    with transaction.atomic():
        existing: dict[str, tuple[int, str, str, dict[str, Any]]] = {}
        keys = list(wanted)
        for start in range(0, len(keys), CHUNK):
            part = keys[start : start + CHUNK]
            existing.update(
                {
                    key: (pk, name, comment, attributes or {})
                    for pk, key, name, comment, attributes in Client.objects.filter(
                        owner=owner
                    )
                    .annotate(key=Lower("email"))
                    .filter(key__in=part)
                    .values_list("pk", "key", "full_name", "comment", "attributes")
                }
            )
        now = timezone.now()
        to_create: list[tuple[int, Client]] = []
        to_update: list[Client] = []
        for key, index in wanted.items():
            email, full_name, comment, attributes = cleaned[index]
            result = results[index]
            if key not in existing:
                result["status"] = "created"
                to_create.append(
                    (
                        index,
                        Client(
                            owner=owner,
                            email=email,
                            full_name=full_name or "",
                            comment=comment or "",
                            attributes=attributes,
                        ),
                    )
                )
                continue
            pk, old_name, old_comment, old_attributes = existing[key]
            result["id"] = pk
            new_name = old_name if full_name is None else full_name
            new_comment = old_comment if comment is None else comment
            new_attributes = {**old_attributes, **attributes}
            if (new_name, new_comment, new_attributes) == (
                old_name,
                old_comment,
                old_attributes,
            ):
                result["status"] = "unchanged"
            else:
                result["status"] = "updated"
                to_update.append(
                    Client(
                        pk=pk,
                        full_name=new_name,
                        comment=new_comment,
                        attributes=new_attributes,
                        updated_at=now,
                    )
                )
        if to_create:
            created = Client.objects.bulk_create([c for _i, c in to_create])
            for (index, _client), saved in zip(to_create, created, strict=True):
                results[index]["id"] = saved.pk
            grant_owner_permissions_new(
                owner=owner, model=Client, ids=[c.pk for c in created]
            )
        if to_update:
            Client.objects.bulk_update(
                to_update,
                ["full_name", "comment", "attributes", "updated_at"],
                batch_size=CHUNK,
            )
