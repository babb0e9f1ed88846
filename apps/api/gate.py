"""What every API request passes before its endpoint runs: the body cap, the key,
the key's rate, and ``Idempotency-Key`` replays for POST.

It wraps each operation's ``run`` (see ``api.py``) rather than living in a
middleware, so that it answers problem documents and touches nothing outside
``/api/``. Ninja's own auth callback (``KeyAuth``) reads the key this gate found.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from cachalot.api import cachalot_disabled
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from ninja.security import HttpBearer

from apps.api import selectors, services
from apps.api.models import ApiKey, IdempotentResponse
from apps.api.problems import ApiProblem, from_exception, problem_response
from apps.core.validators import has_control_characters

IDEMPOTENCY_KEPT = timedelta(days=1)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEY_ATTRIBUTE = "_mailshot_api_key"


def max_body_bytes() -> int:
    """The largest request body (a bulk upsert of 10,000 clients fits in 2.5 MB)."""
    return int(getattr(settings, "MAILSHOT_API_MAX_BODY_BYTES", 0)) or int(
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    )


def rate_limit() -> tuple[int, int]:
    """(requests, seconds) one key may make."""
    return (
        int(getattr(settings, "MAILSHOT_API_RATE", 600)),
        int(getattr(settings, "MAILSHOT_API_RATE_WINDOW", 60)),
    )


class KeyAuth(HttpBearer):
    """``Authorization: Bearer ms_…`` (documented in the OpenAPI document)."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return getattr(request, _KEY_ATTRIBUTE, None)


def _bearer(request: HttpRequest) -> str:
    value = request.headers.get("Authorization", "")
    scheme, _space, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authenticate(request: HttpRequest) -> ApiKey:
    """The request's key, checked; raises a 401/403 problem otherwise."""
    token = _bearer(request)
    key = selectors.api_key_for_token(token) if token else None
    if key is None or not key.is_active:
        raise ApiProblem(
            401,
            gettext("A valid API key is required (Authorization: Bearer …)."),
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = key.owner
    # Read from the database with the key on every request: a person blocked a
    # second ago is refused now.
    if user.is_blocked or not user.is_active:
        raise ApiProblem(403, gettext("This account is blocked."))
    if not selectors.may_use_api(user):
        raise ApiProblem(403, gettext("Your account has no access to the API."))
    if request.method in WRITE_METHODS and not (
        key.scope == ApiKey.Scope.READ_WRITE and selectors.may_write_api(user)
    ):
        raise ApiProblem(403, gettext("This API key may only read."))
    services.api_key_touch(key=key)
    return key


def _check_rate(key: ApiKey) -> None:
    limit, window = rate_limit()
    now = time.time()
    slot = int(now // window)
    name = f"mailshot-api-rate:{key.prefix}:{slot}"
    # add() then incr(): atomic on Redis; on the file cache close enough for a
    # limit whose purpose is to stop runaway scripts.
    if cache.add(name, 1, timeout=window * 2):
        count = 1
    else:
        try:
            count = cache.incr(name)
        except ValueError:  # expired between the two calls
            cache.set(name, 1, timeout=window * 2)
            count = 1
    if count > limit:
        wait = max(1, math.ceil((slot + 1) * window - now))
        raise ApiProblem(
            429,
            gettext("Too many requests with this key; retry in %(seconds)d s.")
            % {"seconds": wait},
            headers={"Retry-After": str(wait)},
        )


def _request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _replay(record: IdempotentResponse) -> HttpResponse:
    response = HttpResponse(
        bytes(record.body),
        status=record.status_code,
        content_type=record.content_type,
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _idempotent(
    request: HttpRequest,
    key: ApiKey,
    name: str,
    run: Callable[[], HttpResponse],
) -> HttpResponse:
    if len(name) > 255 or not name.strip() or has_control_characters(name):
        raise ApiProblem(
            400,
            gettext("Idempotency-Key must be 1 to 255 printable characters."),
            errors=[{"field": "Idempotency-Key", "message": gettext("Invalid.")}],
        )
    fingerprint = _request_hash(request)
    # Responses are kept for a day (as Stripe does): a retry comes within minutes,
    # and the table does not grow without end.
    IdempotentResponse.objects.filter(
        api_key=key, created_at__lt=timezone.now() - IDEMPOTENCY_KEPT
    ).delete()
    for _attempt in range(2):
        # Read past cachalot: the row another request has just committed must be
        # seen now, not after that request's cache invalidation lands.
        with cachalot_disabled():
            earlier = IdempotentResponse.objects.filter(api_key=key, key=name).first()
        if earlier is not None:
            if earlier.request_hash != fingerprint:
                raise ApiProblem(
                    422,
                    gettext("This Idempotency-Key was used for a different request."),
                    errors=[
                        {
                            "field": "Idempotency-Key",
                            "message": gettext("Already used for another request."),
                        }
                    ],
                )
            return _replay(earlier)
        try:
            with transaction.atomic():
                # Claimed first, in the same transaction as whatever the endpoint
                # writes: a second request with this key waits for this one
                # (PostgreSQL: the unique index; SQLite: the write lock), then
                # finds the stored response.
                record = IdempotentResponse.objects.create(
                    api_key=key,
                    key=name,
                    request_hash=fingerprint,
                    status_code=0,
                    content_type="",
                    body=b"",
                )
                response = run()
                if 200 <= response.status_code < 300:
                    IdempotentResponse.objects.filter(pk=record.pk).update(
                        status_code=response.status_code,
                        content_type=response.get("Content-Type", ""),
                        body=response.content,
                    )
                else:
                    # A refused request is not remembered: corrected and sent
                    # again with the same key, it is a new request.
                    transaction.set_rollback(True)
                return response
        except IntegrityError:
            continue
    raise ApiProblem(409, gettext("A request with this Idempotency-Key is running."))


def guard(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap one operation's ``run``."""

    @wraps(run)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        try:
            if length > max_body_bytes():
                limit = max_body_bytes()
                raise ApiProblem(
                    413,
                    ngettext(
                        "The request body is larger than %(limit)d byte.",
                        "The request body is larger than %(limit)d bytes.",
                        limit,
                    )
                    % {"limit": limit},
                )
            key = authenticate(request)
            request.user = key.owner
            setattr(request, _KEY_ATTRIBUTE, key)
            _check_rate(key)
            name = request.headers.get("Idempotency-Key")
            if request.method == "POST" and name is not None:
                return _idempotent(
                    request, key, name, lambda: run(request, *args, **kwargs)
                )
        except ApiProblem as exc:
            return from_exception(exc)
        return run(request, *args, **kwargs)

    return guarded


def not_found(detail: str = "") -> ApiProblem:
    return ApiProblem(404, detail or gettext("No such object."))


__all__ = ["KeyAuth", "guard", "not_found", "problem_response"]
