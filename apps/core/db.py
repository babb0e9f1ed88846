"""Small helpers for the few places that write raw SQL."""

from __future__ import annotations

from typing import Any

from django.db.models import Field
from django.db.models.options import Options


def column(meta: Options[Any], name: str) -> str:
    """The database column of a concrete field (raw SQL names columns, not fields)."""
    field = meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise TypeError(f"{meta.label}.{name} has no column")
    return field.column
