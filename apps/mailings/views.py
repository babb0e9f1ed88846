"""Public pages of mailings: the unsubscribe link of every message."""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.mailings import services
from apps.mailings.models import Client

# What new_unsubscribe_token() makes; anything else is not looked up (PostgreSQL
# cannot even compare a string holding a NUL).
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


# CSRF is exempt on purpose: RFC 8058 one-click unsubscribe is a POST sent by the
# recipient's mail provider, without cookies or a CSRF token. The opaque per-recipient
# token in the URL is the only credential, and unsubscribing is harmless to repeat.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation page (mail scanners follow links, so GET changes
    nothing); POST unsubscribes.

    Template: ``mailings/unsubscribe.html``; context: ``client``, ``done``.
    """
    if not TOKEN_RE.fullmatch(token):
        raise Http404("No such unsubscribe link.")
    client = get_object_or_404(Client, unsubscribe_token=token)
    done = client.is_unsubscribed
    if request.method == "POST":
        client = services.client_unsubscribe(client=client)
        done = True
    response = render(
        request,
        "mailings/unsubscribe.html",
        {"client": client, "done": done, "token": token},
    )
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
