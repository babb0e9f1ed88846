"""Who a mailing says it is from: the DMARC-safe From rules, the Reply-To, and header
encoding of names in any script."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from apps.content import senders
from apps.content.models import SenderIdentity
from apps.mailings import conf, emails
from tests.factories import MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site(settings):
    settings.DEFAULT_FROM_EMAIL = "Mailshot <noreply@mailshot.example>"
    settings.MAILSHOT_SENDER_DOMAINS = ["shop.example", "пример.рф"]
    settings.SITE_URL = "https://mailshot.example"


def identity(owner, address, *, name="Alice's Shop", reply_to="", verified=True, age=0):
    made = SenderIdentity.objects.create(
        owner=owner,
        from_name=name,
        from_email=address,
        reply_to=reply_to,
        verified_at=timezone.now() if verified else None,
    )
    # created_at is set on insert; older identities are moved back in time.
    SenderIdentity.objects.filter(pk=made.pk).update(
        created_at=timezone.now() - timedelta(days=age)
    )
    made.refresh_from_db()
    return made


def mailing_of(owner, sender=None, language="en"):
    return MailingFactory(
        owner=owner,
        message=MessageFactory(owner=owner, language=language),
        sender=sender,
    )


def serialised(headers: senders.SenderHeaders) -> bytes:
    """The header block as the message would carry it (the e-mail package's
    serialisation, which encodes non-ASCII words)."""
    msg = EmailMessage(policy=emails.POLICY)
    msg["From"] = headers.from_header
    if headers.reply_to:
        msg["Reply-To"] = headers.reply_to
    return msg.as_bytes()


def parsed(headers: senders.SenderHeaders):
    return message_from_bytes(serialised(headers), policy=policy.default)


# (address, reply_to, From expected, Reply-To expected)
RULES = [
    # On a signed domain: the identity itself is the From.
    (
        "alice@shop.example",
        "",
        "Alice's Shop <alice@shop.example>",
        "",
    ),
    (
        "alice@shop.example",
        "help@shop.example",
        "Alice's Shop <alice@shop.example>",
        "help@shop.example",
    ),
    # Domains are compared without case.
    (
        "alice@SHOP.example",
        "",
        "Alice's Shop <alice@SHOP.example>",
        "",
    ),
    # A subdomain did not sign the mail: DMARC would reject it as From.
    (
        "alice@news.shop.example",
        "",
        "Alice's Shop via Mailshot <noreply@mailshot.example>",
        "Alice's Shop <alice@news.shop.example>",
    ),
    # Anyone else's domain: "via" the site, replies to the identity.
    (
        "alice@gmail.example",
        "",
        "Alice's Shop via Mailshot <noreply@mailshot.example>",
        "Alice's Shop <alice@gmail.example>",
    ),
    (
        "alice@gmail.example",
        "orders@gmail.example",
        "Alice's Shop via Mailshot <noreply@mailshot.example>",
        "Alice's Shop <orders@gmail.example>",
    ),
]


@pytest.mark.parametrize(("address", "reply_to", "from_header", "reply"), RULES)
def test_a_verified_identity_is_the_from_only_on_a_signed_domain(
    alice, address, reply_to, from_header, reply
):
    sender = identity(alice, address, reply_to=reply_to)
    headers = senders.sender_headers(mailing_of(alice, sender))

    message = parsed(headers)
    assert str(message["From"]) == from_header
    assert str(message["Reply-To"] or "") == reply
    assert headers.display_name == "Alice's Shop"


def test_an_internationalised_signed_domain_is_the_from_in_punycode(alice):
    sender = identity(alice, "alice@пример.рф")

    headers = senders.sender_headers(mailing_of(alice, sender))

    assert parsed(headers)["From"].addresses[0].domain == "xn--e1afmkfd.xn--p1ai"
    assert serialised(headers).isascii()


def test_without_a_sender_the_owners_first_verified_identity_is_used(alice):
    identity(alice, "old-unverified@shop.example", verified=False, age=3)
    identity(alice, "first@shop.example", name="First", age=2)
    identity(alice, "second@shop.example", name="Second", age=1)

    headers = senders.sender_headers(mailing_of(alice))

    assert str(parsed(headers)["From"]) == "First <first@shop.example>"


def test_without_any_identity_the_site_sends_in_the_owners_name(alice):
    alice.first_name, alice.last_name = "Alice", "Liddell"
    alice.save()

    headers = senders.sender_headers(mailing_of(alice))

    message = parsed(headers)
    assert str(message["From"]) == "Alice Liddell <noreply@mailshot.example>"
    assert str(message["Reply-To"]) == "Alice Liddell <alice@example.com>"
    assert headers.display_name == "Alice Liddell"


def test_an_owner_without_a_name_is_sent_as_the_site_with_their_reply_to(alice):
    alice.first_name = alice.last_name = ""
    alice.save()

    headers = senders.sender_headers(mailing_of(alice))

    assert str(parsed(headers)["From"]) == "Mailshot <noreply@mailshot.example>"
    assert str(parsed(headers)["Reply-To"]) == "alice@example.com"


def test_an_unverified_identity_is_refused_never_replaced(alice):
    identity(alice, "fallback@shop.example")
    pending = identity(alice, "pending@shop.example", verified=False)

    with pytest.raises(senders.UnverifiedSender, match="pending@shop.example"):
        senders.sender_headers(mailing_of(alice, pending))


def test_someone_elses_identity_is_refused_even_verified(alice, bob):
    bobs = identity(bob, "bob@shop.example")

    with pytest.raises(senders.UnverifiedSender):
        senders.sender_headers(mailing_of(alice, bobs))


@pytest.mark.parametrize(
    "name",
    [
        "Алиса «Магазин»",
        'Shop, "The Best"',
        "Zoë’s Café 🍰",
        "Name <evil@attacker.example>, other@x.example",
        "Very long name " * 6,
    ],
)
def test_display_names_in_any_script_are_encoded_and_read_back_unchanged(alice, name):
    signed = identity(alice, "alice@shop.example", name=name)
    other = identity(alice, "alice@gmail.example", name=name)

    own = parsed(senders.sender_headers(mailing_of(alice, signed)))
    via = parsed(senders.sender_headers(mailing_of(alice, other)))

    assert serialised(senders.sender_headers(mailing_of(alice, signed))).isascii()
    assert own["From"].addresses[0].display_name == name.strip()
    assert via["From"].addresses[0].display_name == f"{name.strip()} via Mailshot"
    assert via["Reply-To"].addresses[0].display_name == name.strip()


def test_a_non_ascii_name_is_an_rfc_2047_encoded_word(alice):
    sender = identity(alice, "alice@shop.example", name="Алиса")

    raw = serialised(senders.sender_headers(mailing_of(alice, sender)))

    assert raw.startswith(b"From: =?utf-8?")
    assert "Алиса".encode() not in raw


def test_a_russian_message_says_via_in_russian(alice):
    sender = identity(alice, "alice@gmail.example", name="Алиса")

    headers = senders.sender_headers(mailing_of(alice, sender, language="ru"))
    english = senders.sender_headers(mailing_of(alice, sender, language="en"))

    assert str(parsed(english)["From"]).startswith("Алиса via Mailshot")
    # Whatever the catalogue says, the word comes from the message's language.
    from django.utils import translation

    with translation.override("ru"):
        expected = translation.gettext("%(sender)s via %(site)s") % {
            "sender": "Алиса",
            "site": "Mailshot",
        }
    assert parsed(headers)["From"].addresses[0].display_name == expected


@pytest.mark.parametrize(
    "value",
    [
        "shop.example,mail@shop.example",
        "https://shop.example",
        "shop example",
        "localhost",
        "-bad-.example",
    ],
)
def test_a_malformed_sender_domain_is_refused_at_start_up(settings, value):
    settings.MAILSHOT_SENDER_DOMAINS = value

    assert "mailings.E030" in {m.id for m in conf.check_engine_settings()}
    with pytest.raises(SystemCheckError, match="MAILSHOT_SENDER_DOMAINS"):
        call_command("check")


def test_sender_domains_read_from_a_comma_list(settings):
    settings.MAILSHOT_SENDER_DOMAINS = " Shop.Example , news.shop.example,пример.рф "

    assert conf.sender_domains() == {
        "shop.example",
        "news.shop.example",
        "xn--e1afmkfd.xn--p1ai",
    }
    assert "mailings.E030" not in {m.id for m in conf.check_engine_settings()}
