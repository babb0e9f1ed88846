"""Who a mailing's messages say they are from: the From and Reply-To headers.

The rules (DMARC-safe; a receiver checks that the From domain signed the mail):

- A mailing's identity is its ``sender``, else the owner's first verified
  ``SenderIdentity``, else none.
- A verified identity on a domain the operator signs for (``MAILSHOT_SENDER_DOMAINS``)
  is the From itself; its Reply-To, if any, is the Reply-To.
- Any other verified identity cannot be the From (its domain did not sign the mail,
  so DMARC would reject it): From is "<from_name> via <site>" at the site's own
  address (``DEFAULT_FROM_EMAIL``), and replies go to the identity's Reply-To, else
  to its own address.
- No identity: the site's address with the owner's name as display name, and the
  owner's own e-mail as Reply-To.
- An identity that is not verified, or not the mailing owner's, is never sent as:
  ``sender_headers`` raises `UnverifiedSender`, and the engine stops the run with
  ``sender_refusal``'s reason (``apps.mailings.sending``).

Header values are returned as text built with ``email.headerregistry.Address``, so
a display name with commas, quotes or non-ASCII letters is quoted, and encoded
(RFC 2047) when the message is serialised with the e-mail package's policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from apps.content.models import SenderIdentity
from apps.mailings.conf import sender_domains
from apps.mailings.emails import one_line

if TYPE_CHECKING:
    from apps.mailings.models import Mailing
    from apps.users.models import User


class UnverifiedSender(ValueError):
    """The mailing names a sender identity that may not be sent as."""


@dataclass(frozen=True, slots=True)
class SenderHeaders:
    from_header: str  # the From header's value
    reply_to: str  # the Reply-To header's value, "" for none
    display_name: str  # who the sender is, for the footer and the unsubscribe page


def _ascii_address(address: str) -> str:
    """An address with its domain in punycode: headers are written without
    SMTPUTF8, and the e-mail package refuses a non-ASCII domain there."""
    local, _at, domain = one_line(address).rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # left as typed: the form's EmailField refused it already
    return f"{local}@{domain}" if local else domain


def _header(display_name: str, address: str) -> str:
    return str(Address(one_line(display_name), addr_spec=_ascii_address(address)))


def site_name() -> str:
    """The site as people know it: DEFAULT_FROM_EMAIL's display name, else the host
    of SITE_URL."""
    name, _address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return one_line(name) or urlsplit(settings.SITE_URL).hostname or "Mailshot"


def site_address() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address or settings.DEFAULT_FROM_EMAIL


def owner_name(owner: User) -> str:
    return one_line(owner.get_full_name())


def signs_for(address: str) -> bool:
    """Is `address` on a domain the operator signs mail for?"""
    domain = _ascii_address(address).rpartition("@")[2].rstrip(".").lower()
    return bool(domain) and domain in sender_domains()


def verified_identities(owner: User) -> QuerySet[SenderIdentity]:
    """The identities `owner` may send as: their own verified ones, oldest first."""
    return SenderIdentity.objects.filter(
        owner=owner, verified_at__isnull=False
    ).order_by("created_at", "pk")


def default_identity(owner: User) -> SenderIdentity | None:
    """The owner's first verified identity (oldest first), if any."""
    return verified_identities(owner).first()


def identity_refusal(identity: SenderIdentity, *, owner_id: int) -> str | None:
    """Why `identity` may not be sent as by `owner_id`, or None."""
    if identity.owner_id != owner_id:
        return _("The sender %(address)s is not one of the owner's.") % {
            "address": identity.from_email
        }
    if identity.verified_at is None:
        return _(
            "The sender address %(address)s is not verified: open the link mailed "
            "to it, or pick another sender."
        ) % {"address": identity.from_email}
    return None


def sender_refusal(mailing: Mailing) -> str | None:
    """Why the mailing may not be sent as its sender (None: it may)."""
    if mailing.sender_id is None:
        return None
    identity = mailing.sender
    assert identity is not None
    return identity_refusal(identity, owner_id=mailing.owner_id)


def headers_for_identity(
    identity: SenderIdentity, *, language: str | None = None
) -> SenderHeaders:
    """From and Reply-To for a verified identity (see the module's rules); "via"
    is said in `language` (the message's), else the active language."""
    name = one_line(identity.from_name)
    shown = name or one_line(identity.from_email)
    if signs_for(identity.from_email):
        return SenderHeaders(
            from_header=_header(name, identity.from_email),
            reply_to=_header("", identity.reply_to) if identity.reply_to else "",
            display_name=shown,
        )
    with translation.override(language or translation.get_language()):
        via = _("%(sender)s via %(site)s") % {"sender": shown, "site": site_name()}
    return SenderHeaders(
        from_header=_header(via, site_address()),
        reply_to=_header(name, identity.reply_to or identity.from_email),
        display_name=shown,
    )


def headers_for_owner(owner: User, *, language: str | None = None) -> SenderHeaders:
    """From and Reply-To of a mailing that names no identity."""
    identity = default_identity(owner)
    if identity is not None:
        return headers_for_identity(identity, language=language)
    name = owner_name(owner)
    return SenderHeaders(
        from_header=_header(name or site_name(), site_address()),
        reply_to=_header(name, owner.email),
        display_name=name or one_line(owner.email),
    )


def sender_headers(mailing: Mailing) -> SenderHeaders:
    """The From, Reply-To and display name `mailing` goes out with.

    Raises UnverifiedSender when its identity may not be sent as (never falls back
    silently: the owner picked that sender)."""
    refusal = sender_refusal(mailing)
    if refusal:
        raise UnverifiedSender(refusal)
    language = mailing.message.language
    if mailing.sender is not None:
        return headers_for_identity(mailing.sender, language=language)
    return headers_for_owner(mailing.owner, language=language)
