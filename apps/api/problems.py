"""RFC 9457 problem details: every error of the API is one of these, as
``application/problem+json``."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpResponse
from ninja import Schema

PROBLEM_TYPE = "application/problem+json"


class FieldError(Schema):
    field: str
    message: str


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str = ""
    errors: list[FieldError] = []


class ApiProblem(Exception):
    """Raised anywhere under the API; answered as a problem document."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = str(detail)
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str = "",
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        # "about:blank": the status code says it all (RFC 9457 §4.2.1).
        "type": "about:blank",
        "title": phrase,
        "status": status,
        "detail": str(detail) or phrase,
        "errors": [
            {"field": str(e["field"]), "message": str(e["message"])}
            for e in errors or []
        ],
    }
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def from_exception(exc: ApiProblem) -> HttpResponse:
    return problem_response(
        exc.status, exc.detail, errors=exc.errors, headers=exc.headers
    )
