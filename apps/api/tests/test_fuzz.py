"""The API fuzzed from its own OpenAPI document (schemathesis), in-process through
the whole Django stack (WSGI: middleware, URLs, ninja), with two people's data.

For every operation, bounded examples: no 5xx, status code, content type and body
as documented, and nothing of the other person (bob) in alice's answers.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.mailings import services
from apps.mailings.models import Attempt, Client, Delivery, Mailing, Message
from tests.factories import ClientFactory, MailingFactory, MessageFactory

MAX_EXAMPLES = 10
SECRET = "bobsecret"


def _people_data(alice: Any, bob: Any) -> dict[str, set[int]]:
    """Both people's clients, messages, mailings, runs; bob's ids by resource."""
    mine = [
        ClientFactory.create(owner=alice, email=f"a{i}@alice.example") for i in range(3)
    ]
    MailingFactory.create(owner=alice, clients=mine)
    theirs = [
        ClientFactory.create(
            owner=bob, email=f"{SECRET}{i}@bob.example", full_name=SECRET
        )
        for i in range(3)
    ]
    message = MessageFactory.create(owner=bob, subject=SECRET, body=SECRET)
    mailing = MailingFactory.create(owner=bob, message=message, clients=theirs)
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=timezone.now() - timedelta(hours=1)
    )
    services.attempt_created(attempt=attempt)
    Delivery.objects.create(attempt=attempt, client=theirs[0], email=theirs[0].email)
    return {
        "clients": set(Client.objects.filter(owner=bob).values_list("pk", flat=True)),
        "messages": set(Message.objects.filter(owner=bob).values_list("pk", flat=True)),
        "mailings": set(Mailing.objects.filter(owner=bob).values_list("pk", flat=True)),
        "attempts": {attempt.pk},
        "deliveries": set(
            Delivery.objects.filter(attempt=attempt).values_list("pk", flat=True)
        ),
    }


def _resource(path: str) -> str:
    return path.removeprefix("/api/v1/").split("/")[0]


def _reveals(body: Any, path: str, theirs: dict[str, set[int]]) -> bool:
    resource = _resource(path)
    ids = theirs.get(resource, set())
    if isinstance(body, dict):
        items = body.get("items")
        rows = items if isinstance(items, list) else [body]
        for row in rows:
            if isinstance(row, dict) and row.get("id") in ids:
                if resource != "mailings" or "mailing_id" not in row:
                    return True
    return False


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(operation: Any, *, token: str, theirs: dict[str, set[int]]) -> None:
    """Bounded examples of one operation, each sent with alice's key and checked."""
    path = operation.path

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=CHECKS)
        assert SECRET not in response.text, (case.method, case.formatted_path)
        content_type = response.headers.get("Content-Type", [""])[0]
        if response.text and "json" in content_type:
            body = json.loads(response.text)
            assert not _reveals(body, path, theirs), (
                case.method,
                case.formatted_path,
                response.text[:300],
            )

    run()


@pytest.mark.api_fuzz
@pytest.mark.django_db
def test_no_operation_errs_strays_from_its_schema_or_shows_bobs_data(
    alice, bob, api_as, settings
):
    theirs = _people_data(alice, bob)
    token = api_as(alice).token
    seen = 0
    # As Django's test client does: the WSGI handler would otherwise close the
    # database connection after each request, and with it the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi(
            "/api/v1/openapi.json", get_wsgi_application()
        )
        for result in schema.get_all_operations():
            _fuzz(result.ok(), token=token, theirs=theirs)
            seen += 1
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert seen >= 15
