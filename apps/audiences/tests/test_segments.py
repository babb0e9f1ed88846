"""Segment rules: each condition selects what it says, bad rows are refused with a
readable message, and a rule that stopped making sense matches nobody."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audiences.models import Subscription
from apps.audiences.segments import clean_rules, rules_clients, segment_clients
from apps.audiences.tests.factories import ClientListFactory, SegmentFactory
from apps.mailings.models import Client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def _emails(qs) -> list[str]:
    return sorted(qs.values_list("email", flat=True))


@pytest.fixture
def people(alice, bob):
    tver = ClientFactory(
        owner=alice, email="a@tver.example", attributes={"city": "Tver"}
    )
    moscow = ClientFactory(
        owner=alice, email="b@moscow.example", attributes={"city": "Moscow", "plan": 3}
    )
    nobody = ClientFactory(owner=alice, email="c@tver.example")
    ClientFactory(owner=bob, email="z@tver.example", attributes={"city": "Tver"})
    return tver, moscow, nobody


def _match(alice, *rows):
    rules = clean_rules(
        [dict(zip(("condition", "field", "value"), row, strict=True)) for row in rows],
        owner=alice,
    )
    return _emails(rules_clients(rules, owner=alice))


def test_attribute_equals_ignores_case_and_contains_finds_part(alice, people):
    assert _match(alice, ("attr_equals", "city", "tver")) == ["a@tver.example"]
    assert _match(alice, ("attr_contains", "city", "OS")) == ["b@moscow.example"]
    assert _match(alice, ("attr_equals", "plan", "3")) == ["b@moscow.example"]


def test_email_domain_and_all_rows_together(alice, people):
    assert _match(alice, ("email_domain", "", "@TVER.example")) == [
        "a@tver.example",
        "c@tver.example",
    ]
    assert _match(
        alice, ("email_domain", "", "tver.example"), ("attr_equals", "city", "Tver")
    ) == ["a@tver.example"]


def test_no_rows_is_every_client_of_the_owner_only(alice, people):
    assert len(_match(alice)) == 3


def test_list_membership_counts_subscribed_members_only(alice, people):
    tver, moscow, nobody = people
    readers = ClientListFactory(owner=alice, members=[tver, moscow])
    Subscription.objects.filter(client=moscow).update(status="unconfirmed")
    assert _match(alice, ("in_list", "", str(readers.pk))) == ["a@tver.example"]
    assert _match(alice, ("not_in_list", "", str(readers.pk))) == [
        "b@moscow.example",
        "c@tver.example",
    ]


def test_created_before_and_after(alice, people):
    tver = people[0]
    Client.objects.filter(pk=tver.pk).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    day = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert _match(alice, ("created_before", "", day)) == ["a@tver.example"]
    assert len(_match(alice, ("created_after", "", day))) == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("created_after", "", "31.12.2025"), "Enter a date as YYYY-MM-DD"),
        (("created_after", "", "1900-01-01"), "Enter a date as YYYY-MM-DD"),
        (("email_domain", "", "not a domain"), "Enter a domain"),
        (("attr_equals", "", "x"), "Name the attribute"),
        (("attr_equals", 'a"b', "x"), "Name the attribute"),
        (("attr_equals", "city", ""), "Enter a value"),
        (("in_list", "", "abc"), "Choose one of your lists"),
        (("drop_table", "", "x"), "Choose a condition"),
    ],
)
def test_a_bad_row_is_refused_with_its_number(alice, row, message):
    with pytest.raises(ValidationError) as error:
        clean_rules(
            [{"condition": "email_domain", "field": "", "value": "ok.example"}]
            + [dict(zip(("condition", "field", "value"), row, strict=True))],
            owner=alice,
        )
    assert any(
        m.startswith("Condition 2: ") and message in m for m in error.value.messages
    )


def test_rules_that_are_not_a_list_of_rows_are_refused(alice):
    for junk in ({"a": 1}, "text", [1, 2], [{"condition": ["x"]}]):
        with pytest.raises(ValidationError):
            clean_rules(junk, owner=alice)


def test_someone_elses_list_is_not_a_valid_rule(alice, bob):
    theirs = ClientListFactory(owner=bob)
    with pytest.raises(ValidationError):
        clean_rules([{"condition": "in_list", "value": str(theirs.pk)}], owner=alice)


def test_a_saved_rule_whose_list_was_deleted_matches_nobody(alice, people):
    readers = ClientListFactory(owner=alice, members=[people[0]])
    segment = SegmentFactory(
        owner=alice,
        rules=[{"condition": "in_list", "field": "", "value": str(readers.pk)}],
    )
    readers.delete()
    assert list(segment_clients(segment)) == []
