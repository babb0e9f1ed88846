"""The admin dashboard: each person's own numbers; managers see everyone's."""

from datetime import timedelta

import pytest
from cachalot.api import cachalot_disabled
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.mailings import services
from apps.mailings.models import Attempt, Delivery, Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory, PostFactory

pytestmark = pytest.mark.django_db


def run_with(mailing, *, sent: int, failed: int, when=None) -> Attempt:
    """An attempt of ``mailing`` with ``sent`` and ``failed`` deliveries."""
    when = when or timezone.now()
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=when,
        finished_at=when,
        status=Attempt.Status.PARTIAL if failed else Attempt.Status.SUCCESS,
        sent_count=sent,
        failed_count=failed,
    )
    services.attempt_created(attempt=attempt)  # the owner's view permission
    outcomes = [Delivery.Outcome.SENT] * sent + [Delivery.Outcome.FAILED] * failed
    for outcome in outcomes:
        client = ClientFactory.create(owner=mailing.owner)
        Delivery.objects.create(
            attempt=attempt,
            client=client,
            email=client.email,
            outcome=outcome,
            processed_at=when,
        )
    return attempt


@pytest.fixture
def two_users(alice, bob):
    alice_mailing = MailingFactory(
        owner=alice,
        message=MessageFactory(owner=alice, subject="Alice's spring sale"),
        status=Mailing.Status.RUNNING,
    )
    MailingFactory(owner=alice)
    run_with(alice_mailing, sent=3, failed=1)
    run_with(alice_mailing, sent=5, failed=0, when=timezone.now() - timedelta(days=45))

    bob_mailing = MailingFactory(
        owner=bob,
        message=MessageFactory(owner=bob, subject="Bob's secret newsletter"),
        status=Mailing.Status.RUNNING,
    )
    run_with(bob_mailing, sent=2, failed=2)
    ClientFactory(owner=bob, email="bob-private-client@example.org")
    return alice_mailing, bob_mailing


def dashboard(http):
    response = http.get("/admin/")
    assert response.status_code == 200
    return response.context["dashboard"], response.content.decode()


def test_a_user_sees_their_own_numbers_only(alice, two_users, login):
    data, body = dashboard(login(alice))
    assert data["mailings_total"] == 2
    assert data["mailings_active"] == 1
    assert data["clients_total"] == 9  # one new client per delivery, both runs
    assert data["deliveries_sent"] == 3  # the run 45 days ago is outside the window
    assert data["deliveries_failed"] == 1
    assert data["success_rate"] == 75.0
    assert "Alice&#x27;s spring sale" in body
    assert 'data-kpi="mailings_total">2<' in body


def test_nothing_of_one_user_appears_in_anothers_dashboard(
    alice, bob, two_users, login
):
    _, alice_body = dashboard(login(alice))
    bob_data, bob_body = dashboard(login(bob))
    assert "Bob&#x27;s secret newsletter" not in alice_body
    assert "bob-private-client" not in alice_body
    assert "bob@example.com" not in alice_body
    assert "Alice&#x27;s spring sale" not in bob_body
    assert "alice@example.com" not in bob_body
    assert bob_data["deliveries_sent"] == 2
    assert bob_data["clients_total"] == 5
    assert "newest_users" not in bob_data
    assert {a.mailing.owner_id for a in bob_data["recent_attempts"]} == {bob.pk}


def test_a_manager_sees_everyone_and_the_newest_users(manager, two_users, login):
    data, body = dashboard(login(manager))
    assert data["sees_everything"]
    assert data["mailings_total"] == 3
    assert data["mailings_active"] == 2
    assert data["deliveries_sent"] == 5
    assert data["deliveries_failed"] == 3
    assert data["success_rate"] == 62.5
    assert "Alice&#x27;s spring sale" in body and "Bob&#x27;s secret newsletter" in body
    assert "alice@example.com" in body and "bob@example.com" in body


def test_the_chart_counts_deliveries_per_day_over_thirty_days(alice, two_users, login):
    data, body = dashboard(login(alice))
    assert len(data["per_day"]) == 30
    assert data["per_day"][-1] == {
        "day": timezone.localdate(),
        "sent": 3,
        "failed": 1,
    }
    assert sum(row["sent"] for row in data["per_day"][:-1]) == 0
    assert 'class="chart"' in body and 'data-type="bar"' in body


def test_a_user_without_deliveries_has_no_success_rate(alice, login):
    data, body = dashboard(login(alice))
    assert data["success_rate"] is None
    assert data["recent_attempts"] == []
    # An empty chart would draw a meaningless 0–1 axis: a sentence says why it's empty.
    assert "data-chart-empty" in body
    assert 'class="chart"' not in body


def test_an_editor_sees_the_blog_not_mailings(editor, two_users, login):
    PostFactory(views_count=7)
    PostFactory(is_published=False)
    data, body = dashboard(login(editor))
    assert not data["mailing_role"]
    assert data["posts"] == {"total": 2, "published": 1, "views": 7}
    assert "Alice&#x27;s spring sale" not in body


@pytest.mark.parametrize("persona", ["alice", "manager"])
def test_dashboard_query_count_does_not_grow_with_data(persona, request, login):
    user = request.getfixturevalue(persona)
    owner = user if persona == "alice" else request.getfixturevalue("bob")
    http = login(user)

    def count_queries() -> int:
        with cachalot_disabled(), CaptureQueriesContext(connection) as queries:
            http.get("/admin/")
        return len(queries)

    mailing = MailingFactory(owner=owner)
    run_with(mailing, sent=1, failed=1)
    few = count_queries()
    for _ in range(4):
        more = MailingFactory(owner=owner)
        run_with(more, sent=3, failed=2)
        run_with(more, sent=2, failed=0, when=timezone.now() - timedelta(days=3))
    assert count_queries() == few


def test_a_superuser_sees_every_section(superuser, two_users, login):
    PostFactory()
    data, body = dashboard(login(superuser))
    assert data["mailings_total"] == 3
    assert "newest_users" in data and data["posts"]["total"] == 1
    assert "Bob&#x27;s secret newsletter" in body
