"""The API at /api/v1/: its routers, its error format, its OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext
from ninja import NinjaAPI, Swagger
from ninja.decorators import _apply_decorators
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from apps.api.endpoints import attempts, audiences, clients, mailings, messages, senders
from apps.api.gate import KeyAuth, guard
from apps.api.problems import PROBLEM_TYPE, ApiProblem, from_exception, problem_response

logger = logging.getLogger(__name__)

# The docs page (Swagger UI, served from ninja's static files, no CDN) needs inline
# styles, which the public site's policy forbids; only this page gets them.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)


class MailshotSwagger(Swagger):
    def render_page(
        self, request: HttpRequest, api: NinjaAPI, **kwargs: Any
    ) -> HttpResponse:
        response = super().render_page(request, api, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class MailshotAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        # Errors are problem documents (RFC 9457), say so in the document.
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for code, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if int(code) >= 400 and "application/json" in content:
                        content[PROBLEM_TYPE] = content.pop("application/json")
        return schema


api = MailshotAPI(
    title="Mailshot API",
    version="1",
    description=(
        "Clients, messages, mailings and their runs, for the owner of the API key. "
        "Authenticate with `Authorization: Bearer <key>` (keys are made in the "
        "admin). Lists are paginated by cursor: follow `next`. Errors are RFC 9457 "
        "problem documents."
    ),
    urls_namespace="api",
    auth=KeyAuth(),
    docs=MailshotSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
for router in (
    clients.router,
    audiences.router,
    audiences.suppressions,
    messages.router,
    senders.router,
    mailings.router,
    attempts.router,
):
    api.add_router("", router)


@api.exception_handler(ApiProblem)
def _problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return from_exception(exc)


@api.exception_handler(NinjaValidationError)
def _invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        # ("body", "payload", "email") -> "email"; ("query", "limit") -> "limit"
        if loc and loc[0] == "body":
            loc = loc[2:] or loc[1:]
        elif loc:
            loc = loc[1:]
        errors.append(
            {"field": ".".join(loc) or "body", "message": str(error.get("msg", ""))}
        )
    return problem_response(422, gettext("The request is not valid."), errors=errors)


@api.exception_handler(DjangoValidationError)
def _invalid_object(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        errors = [
            {"field": "__all__" if name == "__all__" else name, "message": message}
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        errors = [{"field": "__all__", "message": m} for m in exc.messages]
    return problem_response(422, gettext("The request is not valid."), errors=errors)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(404, gettext("No such object."))


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem_response(403, gettext("You may not do this."))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem_response(413, gettext("The request body is too large."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    headers = {}
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(exc.status_code, str(exc), headers=headers)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return problem_response(500, gettext("Something went wrong on our side."))


# Every operation passes the gate (body cap, key, rate, idempotency) first. Applied
# the way ninja's decorate_view does (recorded on the operation), so that the copies
# ninja makes of each operation when it builds its URLs keep it.
for _prefix, _router in api._routers:
    for _path_view in _router.path_operations.values():
        for _operation in _path_view.operations:
            _apply_decorators((guard,), _operation)
