"""Two requests with one Idempotency-Key at the same moment: one mailing, and both
get the same answer (PostgreSQL: each request on its own connection).

A mailing, not a client: nothing but the idempotency claim stops a second one (a
client's address is unique anyway). Mutations this catches, tried by hand: the
endpoint's writes outside the claim's transaction (two mailings), no retry after
losing the claim (a 500)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from apps.api import services as api_services
from apps.api.tests.conftest import Api
from apps.mailings import services
from apps.mailings.models import Mailing
from apps.users import roles
from tests.factories import MessageFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_with_one_key_make_one_mailing(monkeypatch, settings):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's in-memory test database is one connection")
    from apps.users.signals import create_groups

    create_groups()  # a transactional test starts from an empty database
    settings.MAILSHOT_API_RATE = 1000
    alice = UserFactory(email="alice@example.com", group=roles.USERS)
    _key, token = api_services.api_key_create(
        owner=alice, name="race", scope="read_write"
    )
    message = MessageFactory(owner=alice)
    save = services.mailing_save

    def slow_save(**kwargs: Any) -> Mailing:
        time.sleep(0.3)  # the second request arrives while the first is inside
        return save(**kwargs)

    monkeypatch.setattr(services, "mailing_save", slow_save)
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def post() -> None:
        api = Api(token)
        barrier.wait()
        try:
            answers.append(
                api.post(
                    "mailings",
                    {
                        "message_id": message.pk,
                        "start_at": "2090-01-01T00:00:00Z",
                        "end_at": "2090-02-01T00:00:00Z",
                        "to_all_clients": True,
                    },
                    headers={"Idempotency-Key": "race"},
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert Mailing.objects.filter(owner=alice).count() == 1
