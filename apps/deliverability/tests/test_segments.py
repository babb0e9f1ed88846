"""Engagement rules of segments: people who opened or clicked lately, or did not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audiences.forms import condition_choices
from apps.audiences.segments import clean_rules, rules_clients
from apps.deliverability.engagement import Hit, record
from apps.mailings.models import Attempt, Delivery
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 Firefox/140.0"


@pytest.fixture
def readers(alice):
    """opener opened 2 days ago, clicker clicked 40 days ago, idle did nothing,
    scanned was only fetched by a scanner."""
    attempt = Attempt.objects.create(
        mailing=MailingFactory(owner=alice), attempted_at=timezone.now()
    )
    now = timezone.now()
    people = {}
    for name in ("opener", "clicker", "idle", "scanned"):
        client = ClientFactory.create(owner=alice, email=f"{name}@example.org")
        people[name] = Delivery.objects.create(
            attempt=attempt,
            client=client,
            email=client.email,
            outcome="sent",
            processed_at=now - timedelta(days=60),
        )
    record(
        [
            Hit(people["opener"].pk, "open", now - timedelta(days=2), BROWSER),
            Hit(
                people["clicker"].pk, "click", now - timedelta(days=40), BROWSER, 0, "x"
            ),
            Hit(
                people["scanned"].pk,
                "open",
                now - timedelta(days=1),
                "GoogleImageProxy",
            ),
        ]
    )
    return people


def names(rules, owner):
    cleaned = clean_rules(rules, owner=owner)
    return sorted(c.email.split("@")[0] for c in rules_clients(cleaned, owner=owner))


def test_engagement_conditions_are_offered():
    offered = {name for name, _label in condition_choices()}
    assert {"opened_within", "clicked_within", "not_opened_within"} <= offered


def test_opened_clicked_and_not_opened(readers, alice):
    rule = {"field": ""}
    assert names([{**rule, "condition": "opened_within", "value": "7"}], alice) == [
        "opener"
    ]
    assert names([{**rule, "condition": "clicked_within", "value": "60"}], alice) == [
        "clicker"
    ]
    assert names([{**rule, "condition": "clicked_within", "value": "30"}], alice) == []
    assert names([{**rule, "condition": "not_opened_within", "value": "7"}], alice) == [
        "clicker",
        "idle",
        "scanned",
    ]


@pytest.mark.parametrize("value", ["", "soon", "0", "99999"])
def test_a_bad_number_of_days_is_a_form_error(alice, value):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        clean_rules(
            [{"condition": "opened_within", "field": "", "value": value}], owner=alice
        )
