"""Cursor pagination: every list is read in id order, a page after the last id
of the one before. The cursor is opaque to clients (they follow ``next``)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja import Query, Schema
from pydantic import Field

from apps.api.problems import ApiProblem

MAX_ID = 2**63 - 1
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# No control characters, nothing but the cursor's own alphabet.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"


class PageParams(Schema):
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    cursor: Annotated[str | None, Field(pattern=CURSOR_PATTERN)] = None


PageQuery = Query[PageParams]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _colon, value = raw.partition(":")
        last_id = int(value)
        if version != "c1" or not 0 <= last_id <= MAX_ID:
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(
            400,
            gettext("The cursor is not one this API gave."),
            errors=[{"field": "cursor", "message": gettext("Invalid cursor.")}],
        ) from None
    return last_id


def page(request: HttpRequest, qs: QuerySet[Any], params: PageParams) -> dict[str, Any]:
    """One page of `qs` (a single query) and the link to the next one."""
    qs = qs.order_by("pk")
    if params.cursor:
        qs = qs.filter(pk__gt=decode_cursor(params.cursor))
    rows = list(qs[: params.limit + 1])
    next_url = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        query = request.GET.copy()
        query["cursor"] = encode_cursor(rows[-1].pk)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return {"items": rows, "next": next_url}
