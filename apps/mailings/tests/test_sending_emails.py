"""Building one message: placeholders, headers, footer."""

from datetime import UTC, datetime

import time_machine

from apps.mailings import emails

RECIPIENT = emails.Recipient(
    email="ann@example.org", full_name="Ann Lee", unsubscribe_token="tok-123"
)


def build(subject="S", body="B", recipient=RECIPIENT):
    return emails.build_mailing_message(
        subject=subject, body=body, recipient=recipient, message_id="<id@example>"
    )


def test_every_fixed_placeholder_is_replaced(settings):
    settings.SITE_URL = "https://mailshot.example"
    with time_machine.travel(datetime(2027, 3, 4, 12, tzinfo=UTC)):
        text = emails.personalise(
            "{{ full_name }}|{{first_name}}|{{  email }}|{{ unsubscribe_url }}|"
            "{{ today }}",
            emails.placeholder_context(RECIPIENT),
        )
    assert text == (
        "Ann Lee|Ann|ann@example.org|https://mailshot.example/unsubscribe/tok-123/|"
        "2027-03-04"
    )


def test_other_template_syntax_is_left_as_it_is():
    text = "{{ user.password }} {% include 'x' %} {{ full_name|upper }} {{ nope }}"
    assert emails.personalise(text, emails.placeholder_context(RECIPIENT)) == text


def test_a_recipient_without_a_name_gets_empty_name_placeholders():
    nameless = emails.Recipient("x@example.org", "", "t")
    assert (
        emails.personalise("Hi {{ first_name }}!", emails.placeholder_context(nameless))
        == "Hi !"
    )


def test_every_kind_of_line_break_is_removed_from_header_values():
    message = build(
        subject="a\rb\nc\u2028d\x0be",
        recipient=emails.Recipient("x@example.org", "Eve\r\nBcc: y@example.org", "t"),
    )
    raw = message.as_bytes().decode()
    headers = raw.split("\r\n\r\n", 1)[0]
    assert "\r\nBcc:" not in headers
    assert message["Subject"] == "a b c d e"


def test_the_message_id_is_stable_per_delivery_and_differs_between_deliveries():
    first = emails.make_message_id(attempt_id=1, delivery_id=2)
    assert first == emails.make_message_id(attempt_id=1, delivery_id=2)
    assert first != emails.make_message_id(attempt_id=1, delivery_id=3)
    assert first.startswith("<") and first.endswith(">") and "@" in first


def test_the_footer_carries_the_unsubscribe_link(settings):
    settings.SITE_URL = "https://mailshot.example"
    body = build(body="Hello").get_content()
    assert body.startswith("Hello\n\n-- \n")
    assert "https://mailshot.example/unsubscribe/tok-123/" in body
