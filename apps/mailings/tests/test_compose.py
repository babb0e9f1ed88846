"""The fast per-run message builder writes exactly the reference builder's bytes,
for text-only messages and for HTML ones (multipart/alternative)."""

import email
import itertools
import random
from datetime import UTC, datetime
from email import policy

import pytest
import time_machine

from apps.content import layouts
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
    '{{ attr.city|default:"Paris" }} news',
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
HTMLS = [
    "",
    '<p>Hello {{ full_name }} &amp; <a href="{{ unsubscribe_url }}">bye</a></p>',
    "<h2>Привет, {{ first_name }}</h2><p>Ünïcödé</p>",
    "<p>" + "z" * 1500 + "</p>",
    "<p>" + "word " * 400 + "</p>",
]
FROMS = [
    ("Mailshot <noreply@localhost>", ""),
    ("Ann Lee <ann@example.org>", "replies@example.org"),
    ("Анна via Mailshot <noreply@localhost>", "Анна <anna@example.org>"),
    ('"Doe, John" <john@example.org>', ""),
]
NAMES = ["Reader 1", "", "Ann Lee", "J. Smith", "Doe, John", "Анна Ж", "Eve\nBcc: x"]
NAMES += ["O'Brien", "  padded  ", "a-b c-d", "x" * 300, "<b>Tag</b> & co"]
ADDRESSES = ["r1@example.org", "first.last+tag@sub.example.com", "a..b@example.org"]
ADDRESSES += ["xn--e1afmkfd@xn--p1ai.example", "weird!#@example.org"]
TOKENS = ["abcABC123_-xyz", "tok with space", "t%ok"]


def content(subject, body, html="", sender=FROMS[0], mailing_id=None):
    if html:
        html = layouts.document(
            layouts.apply_layout(layouts.default_layout("en"), html), language="en"
        )
    return compose.Content(
        subject=subject,
        text=body.rstrip() + "\n\n-- \nUnsubscribe: {{ unsubscribe_url }}",
        html=html,
        from_header=sender[0],
        reply_to=sender[1],
        mailing_id=mailing_id,
        boundary="mailshot-0123456789abcdef01234567" if html else "",
    )


def compare(template, recipients, slow_calls):
    reference = template.slow
    template.slow = lambda *a: slow_calls.append(1) or reference(*a)
    for recipient in recipients:
        message_id = emails.make_message_id(attempt_id=1, delivery_id=2)
        got = template.build(recipient, message_id, recipient.email)
        want = reference(recipient, message_id, recipient.email)
        assert got == want, (template.content, recipient)


def recipients(rng):
    found = [emails.Recipient("r1@example.org", "Reader 1", "t0k-_")]
    return found + [
        emails.Recipient(
            email=rng.choice(ADDRESSES),
            full_name=rng.choice(NAMES),
            unsubscribe_token=rng.choice(TOKENS),
        )
        for _ in range(3)
    ]


@pytest.mark.parametrize("site", ["http://localhost:8000", "https://mailshot.example"])
def test_fast_bytes_equal_the_reference_builder(settings, site):
    settings.SITE_URL = site
    rng = random.Random(7)
    cases = list(itertools.product(SUBJECTS, BODIES))
    slow_calls: list[int] = []
    with time_machine.travel(datetime(2027, 3, 4, 12, tzinfo=UTC), tick=False):
        for subject, body in cases:
            template = compose.MessageTemplate(content(subject, body))
            compare(template, recipients(rng), slow_calls)
    # Most of these cases are plain enough for the fast path.
    assert len(cases) * 4 - len(slow_calls) > len(cases) / 2, len(slow_calls)


@pytest.mark.parametrize("mailing_id", [None, 42])
def test_fast_multipart_bytes_equal_the_reference_builder(settings, mailing_id):
    settings.SITE_URL = "https://mailshot.example"
    rng = random.Random(11)
    cases = list(itertools.product(SUBJECTS[:4], BODIES[:4], HTMLS, FROMS))
    slow_calls: list[int] = []
    with time_machine.travel(datetime(2027, 3, 4, 12, tzinfo=UTC), tick=False):
        for subject, body, html, sender in cases:
            made = content(subject, body, html, sender, mailing_id)
            compare(compose.MessageTemplate(made), recipients(rng), slow_calls)
    assert len(cases) * 4 - len(slow_calls) > len(cases) / 2, len(slow_calls)


def test_plain_messages_take_the_fast_path(monkeypatch):
    template = compose.MessageTemplate(
        compose.plain_content(subject="News {{ full_name }}", body="Hi")
    )
    monkeypatch.setattr(template, "slow", lambda *a: pytest.fail("took the slow path"))
    recipient = emails.Recipient("r1@example.org", "Reader 1", "tok_en-1")
    raw = template.build(recipient, "<m.1@example.org>", "r1@example.org")
    assert raw.startswith(b"Subject: News Reader 1\r\n")


def test_an_html_message_is_multipart_alternative_read_back_by_the_standard_library(
    monkeypatch,
):
    made = content(
        "Hi {{ first_name }}",
        "Text for {{ full_name }}",
        '<p>HTML for {{ full_name }} <img src="https://site.example/a.png"></p>',
        FROMS[1],
    )
    template = compose.MessageTemplate(made)
    monkeypatch.setattr(template, "slow", lambda *a: pytest.fail("took the slow path"))
    recipient = emails.Recipient("r1@example.org", "Ann Lee", "tok_en-1")
    raw = template.build(recipient, "<m.1@example.org>", "r1@example.org")

    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == "Hi Ann"
    assert parsed["Reply-To"] == "replies@example.org"
    text, html = parsed.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "Text for Ann Lee" in text.get_content()
    assert html.get_content_type() == "text/html"
    body = html.get_content()
    assert "HTML for Ann Lee" in body
    assert '<img src="https://site.example/a.png"' in body  # referenced, not attached
    assert 'style="' in body  # the layout's CSS is inlined
    assert "/unsubscribe/tok_en-1/" in body
    assert not any(part.get_filename() for part in parsed.walk())


def test_names_are_escaped_in_the_html_part():
    made = content("S", "T", "<p>{{ full_name }}</p>")
    recipient = emails.Recipient("r1@example.org", "<script>x</script>", "tok")
    raw = compose.MessageTemplate(made).build(recipient, "<m@x>", "r1@example.org")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    html = list(parsed.iter_parts())[1].get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_attributes_fall_back_to_their_default():
    made = content('Hi {{ attr.city|default:"friend" }}', "{{ attr.plan }}.")
    recipient = emails.Recipient("r1@example.org", "", "tok")
    raw = compose.MessageTemplate(made).build(recipient, "<m@x>", "r1@example.org")
    assert raw.startswith(b"Subject: Hi friend\r\n")
    assert b"\r\n\r\n.\r\n" in raw
