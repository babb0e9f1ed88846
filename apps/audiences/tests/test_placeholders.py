"""{{ attr.NAME }} and {{ attr.NAME|default:"…" }}: fixed substitution of a client's
own fields, the same bytes from the fast builder and the reference."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import time_machine

from apps.mailings import compose, emails

ATTRIBUTES = [
    {},
    {"city": "Tver", "plan": "gold"},
    {"city": ""},
    {"city": "{{ email }} {{ attr.plan }}", "plan": "x"},
    {"city": "Тверь", "visits": 3, "vip": True, "tags": ["a"]},
    {"city": "Line\r\nBcc: victim@example.net"},
]
SUBJECTS = ["Hi from {{ attr.city }}", 'Hello {{ attr.city|default:"friend" }}!']
BODIES = [
    'Dear {{ attr.city | default:"friend" }}, plan {{attr.plan}}, {{ attr.tags }}.',
    "{{ attr.visits }} visits, VIP {{ attr.vip }}, {{ attr.missing }}.",
]


def _text(body: str, attributes: dict) -> str:
    recipient = emails.Recipient("r@example.org", "Ann Lee", "tok", attributes)
    return emails.personalise(body, emails.placeholder_context(recipient))


def test_an_attribute_is_replaced_by_the_clients_value():
    assert _text("From {{ attr.city }}.", {"city": "Tver"}) == "From Tver."


def test_the_fallback_is_used_when_the_attribute_is_missing_or_empty():
    body = 'Hi {{ attr.city|default:"friend" }}!'
    assert _text(body, {}) == "Hi friend!"
    assert _text(body, {"city": ""}) == "Hi friend!"
    assert _text(body, {"city": "Tver"}) == "Hi Tver!"


def test_a_missing_attribute_without_fallback_becomes_empty():
    assert _text("[{{ attr.city }}]", {}) == "[]"


def test_a_value_that_looks_like_a_placeholder_is_not_substituted_again():
    out = _text("{{ attr.city }}", {"city": "{{ email }} {{ attr.plan }}", "plan": "p"})
    assert out == "{{ email }} {{ attr.plan }}"


def test_lists_and_objects_are_not_written_out():
    assert _text("[{{ attr.tags }}]", {"tags": ["a", "b"]}) == "[]"


@pytest.mark.parametrize("site", ["https://mailshot.example"])
def test_fast_bytes_equal_the_reference_builder_with_attributes(settings, site):
    settings.SITE_URL = site
    with time_machine.travel(datetime(2027, 3, 4, 12, tzinfo=UTC), tick=False):
        for subject, body in itertools.product(SUBJECTS, BODIES):
            template = compose.MessageTemplate(
                compose.plain_content(subject=subject, body=body)
            )
            for attributes in ATTRIBUTES:
                recipient = emails.Recipient(
                    "r1@example.org", "Reader 1", "t0k-_", attributes
                )
                message_id = emails.make_message_id(attempt_id=1, delivery_id=2)
                got = template.build(recipient, message_id, recipient.email)
                want = template.slow(recipient, message_id, recipient.email)
                assert got == want, (subject, body, attributes)


@pytest.mark.django_db
@pytest.mark.smtp
def test_a_sent_message_carries_each_recipients_attributes(sink, alice):
    from datetime import timedelta

    from django.utils import timezone

    from apps.mailings import sending
    from tests.factories import ClientFactory, MailingFactory, MessageFactory

    tver = ClientFactory(
        owner=alice, email="t@example.org", attributes={"city": "Tver"}
    )
    nobody = ClientFactory(owner=alice, email="n@example.org")
    now = timezone.now()
    mailing = MailingFactory.create(
        owner=alice,
        message=MessageFactory(
            owner=alice,
            subject='News for {{ attr.city|default:"you" }}',
            body='Weather in {{ attr.city|default:"your town" }}.',
        ),
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(days=1),
        clients=[tver, nobody],
    )

    sending.run_mailing_now(mailing.pk)

    by_rcpt = {m.envelope_to[0]: m.message for m in sink.messages}
    assert by_rcpt["t@example.org"]["Subject"] == "News for Tver"
    assert "Weather in Tver." in by_rcpt["t@example.org"].get_payload()
    assert by_rcpt["n@example.org"]["Subject"] == "News for you"
    assert "Weather in your town." in by_rcpt["n@example.org"].get_payload()
