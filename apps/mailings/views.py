"""Public pages of mailings (the unsubscribe link of every message), and the small
JSON endpoints the admin pages poll (the live progress of a run)."""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.content import footers, senders
from apps.core.validators import parse_id
from apps.mailings import selectors, services
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


# --- Live progress of a run (behind the admin's login: AdminSite.admin_view) ---


def _no_store(data: dict) -> JsonResponse:
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
def mailing_progress(request: HttpRequest, object_id: str) -> JsonResponse:
    """The state of a mailing and the counts of its open (else latest) run, for
    whoever may see the mailing; 404 for anyone else (no hint that it exists)."""
    pk = parse_id(object_id)
    mailing = (
        selectors.visible_mailings(request.user).filter(pk=pk).first()
        if pk is not None
        else None
    )
    if mailing is None:
        raise Http404("No such mailing.")
    return _no_store(selectors.mailing_progress(mailing))


@require_http_methods(["GET", "HEAD"])
def attempt_progress(request: HttpRequest, object_id: str) -> JsonResponse:
    """The counts of one run, for whoever may see it; 404 for anyone else."""
    pk = parse_id(object_id)
    attempt = (
        selectors.visible_attempts(request.user).filter(pk=pk).first()
        if pk is not None
        else None
    )
    if attempt is None:
        raise Http404("No such attempt.")
    return _no_store(selectors.attempt_progress(attempt))
