"""Shared by the endpoint modules: the error responses every operation documents,
and getting one object through the permission module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import Model
from django.http import HttpRequest

from apps.api.gate import not_found
from apps.api.problems import Problem
from apps.core import permissions

if TYPE_CHECKING:
    from apps.users.models import User

# Documented on every operation (the fuzzer checks responses against them).
ERRORS: dict[int, Any] = {
    code: Problem for code in (400, 401, 403, 404, 409, 413, 422, 429)
}


def responses(ok: dict[int, Any]) -> dict[int, Any]:
    return {**ok, **ERRORS}


def get_for(user: Any, model: type[Model], pk: int, action: str = "view") -> Any:
    """The object if `user` may `action` it; 404 otherwise, also when it exists
    but is someone else's (a 403 would confirm that it exists)."""
    obj = permissions.visible(user, model, action).filter(pk=pk).first()
    if obj is None:
        raise not_found()
    return obj


def person(request: HttpRequest) -> User:
    """The key's owner: the gate put them on the request before any endpoint."""
    return cast("User", request.user)
