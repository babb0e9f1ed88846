"""The fast per-run message builder writes exactly the reference builder's bytes."""

import itertools
import random
from datetime import UTC, datetime

import pytest
import time_machine

from apps.mailings import compose, emails

SUBJECTS = [
    "News for {{ full_name }}",
    "Hi {{ first_name }}",
    "Plain",
    "Two  spaces",
    "Trailing   ",
    'Dots. Commas, (parens) [brackets] <angles> @at: ;semi "quote"',
    "=?utf-8?q?looks_encoded?=",
    "Привет {{ full_name }}",
    "Line\r\nBcc: victim@example.net",
    "x" * 950,
    "",
    "{{ email }} {{ today }} {{ unsubscribe_url }}",
]
BODIES = [
    "Hello {{ full_name }}!",
    "Dear {{ full_name }} <{{ email }}>.\n\nSecond paragraph.\n",
    "Тело письма {{ first_name }}",
    "Tabs\tand\x0bvertical\x0cfeeds\rcr\r\ncrlf",
    "y" * 1200,
    "{% load static %}{{ settings.SECRET_KEY }} {{full_name}}",
    "trailing spaces   \n\n\n",
    ".\n..leading dots\nFrom here",
]
NAMES = ["Reader 1", "", "Ann Lee", "J. Smith", "Doe, John", "Анна Ж", "Eve\nBcc: x"]
NAMES += ["O'Brien", "  padded  ", "a-b c-d", "x" * 300]
ADDRESSES = ["r1@example.org", "first.last+tag@sub.example.com", "a..b@example.org"]
ADDRESSES += ["xn--e1afmkfd@xn--p1ai.example", "weird!#@example.org"]
TOKENS = ["abcABC123_-xyz", "tok with space", "t%ok"]


@pytest.mark.parametrize("site", ["http://localhost:8000", "https://mailshot.example"])
def test_fast_bytes_equal_the_reference_builder(settings, site):
    settings.SITE_URL = site
    rng = random.Random(7)
    cases = list(itertools.product(SUBJECTS, BODIES))
    slow_calls = []
    with time_machine.travel(datetime(2027, 3, 4, 12, tzinfo=UTC), tick=False):
        for subject, body in cases:
            template = compose.MessageTemplate(subject=subject, body=body)
            reference = template.slow
            template.slow = lambda *a, reference=reference: (
                slow_calls.append(1) or reference(*a)
            )
            recipients = [emails.Recipient("r1@example.org", "Reader 1", "t0k-_")]
            recipients += [
                emails.Recipient(
                    email=rng.choice(ADDRESSES),
                    full_name=rng.choice(NAMES),
                    unsubscribe_token=rng.choice(TOKENS),
                )
                for _ in range(3)
            ]
            for recipient in recipients:
                message_id = emails.make_message_id(attempt_id=1, delivery_id=2)
                got = template.build(recipient, message_id, recipient.email)
                want = reference(recipient, message_id, recipient.email)
                assert got == want, (subject, body, recipient)
    # Most of these cases are plain enough for the fast path.
    assert len(cases) * 4 - len(slow_calls) > len(cases) / 2, len(slow_calls)


def test_plain_messages_take_the_fast_path(settings, monkeypatch):
    template = compose.MessageTemplate(subject="News {{ full_name }}", body="Hi")
    monkeypatch.setattr(template, "slow", lambda *a: pytest.fail("took the slow path"))
    recipient = emails.Recipient("r1@example.org", "Reader 1", "tok_en-1")
    raw = template.build(recipient, "<m.1@example.org>", "r1@example.org")
    assert raw.startswith(b"Subject: News Reader 1\r\n")
