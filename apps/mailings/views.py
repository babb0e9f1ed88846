"""Public pages of mailings: the unsubscribe link of every message."""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.content import footers, senders
from apps.mailings import services
from apps.mailings.models import Client, Mailing

# What new_unsubscribe_token() makes; anything else is not looked up (PostgreSQL
# cannot even compare a string holding a NUL).
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _mailing_of_link(request: HttpRequest, client: Client) -> Mailing | None:
    """The mailing the link came with (its ``m`` parameter), if it is genuine and
    from the recipient's own sender."""
    mailing_id = footers.mailing_id_from(request.GET.get(footers.MAILING_PARAMETER, ""))
    if mailing_id is None:
        return None
    return (
        Mailing.objects.select_related("message", "sender", "owner")
        .filter(pk=mailing_id, owner_id=client.owner_id)
        .first()
    )


def _sender_name(mailing: Mailing | None, client: Client) -> str:
    if mailing is not None:
        try:
            return senders.sender_headers(mailing).display_name
        except senders.UnverifiedSender:
            pass  # not sent as that identity: the owner's default names them
    return senders.headers_for_owner(client.owner).display_name


# CSRF is exempt on purpose: RFC 8058 one-click unsubscribe is a POST sent by the
# recipient's mail provider, without cookies or a CSRF token. The opaque per-recipient
# token in the URL is the only credential, and unsubscribing is harmless to repeat.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation page (mail scanners follow links, so GET changes
    nothing); POST unsubscribes.

    The page speaks the language of the message the link came with and names its
    sender (see ``apps.content.footers.unsubscribe_url``); a link without that
    (older messages) speaks the visitor's language and names the owner's default
    sender.

    Template: ``mailings/unsubscribe.html``; context: ``client``, ``done``,
    ``sender_name``, ``action`` (where the form posts: this same link).
    """
    if not TOKEN_RE.fullmatch(token):
        raise Http404("No such unsubscribe link.")
    client = get_object_or_404(
        Client.objects.select_related("owner"), unsubscribe_token=token
    )
    mailing = _mailing_of_link(request, client)
    language = mailing.message.language if mailing else translation.get_language()
    done = client.is_unsubscribed
    if request.method == "POST":
        client = services.client_unsubscribe(client=client)
        done = True
    action = reverse("mailings:unsubscribe", args=[token])
    if mailing is not None:
        action += (
            f"?{footers.MAILING_PARAMETER}={footers.mailing_reference(mailing.pk)}"
        )
    with translation.override(language):
        response = render(
            request,
            "mailings/unsubscribe.html",
            {
                "client": client,
                "done": done,
                "token": token,
                "sender_name": _sender_name(mailing, client),
                "action": action,
            },
        )
        response["Content-Language"] = translation.get_language()
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
