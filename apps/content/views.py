"""Public pages of content: the sender-address verification link.

The pages are themed like the account pages (Unfold's login layout).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.content import verification
from apps.content.verification import Problem
from apps.core import permissions

TEMPLATE = "content/senders/verify.html"


def _page(
    request: HttpRequest, *, title: str, status: int = 200, **context: Any
) -> HttpResponse:
    return render(
        request,
        TEMPLATE,
        {**admin.site.each_context(request), "title": title, **context},
        status=status,
    )


def _problem(request: HttpRequest, problem: str, status: int) -> HttpResponse:
    return _page(
        request,
        title=_("This link no longer works"),
        status=status,
        problem=problem,
    )


# The link comes by mail, so it is opened without a session as often as with one:
# a bad link says so to anybody (it reveals nothing), the rest needs the owner's login.
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sender_verify(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners follow links: GET verifies nothing); POST
    by the identity's owner verifies the address and returns to the sender list.

    Template: ``content/senders/verify.html``; context: ``identity``, or ``problem``
    (``invalid``, ``expired``, ``used``, ``other_account``) with status 400/403.
    """
    checked = verification.check_token(token)
    identity = checked.identity
    if identity is None or checked.problem in (Problem.INVALID, Problem.EXPIRED):
        return _problem(request, checked.problem or Problem.INVALID, 400)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    # The owner only: whoever else opens the link (another account, a manager, who
    # may look at identities but not change them) is told so and changes nothing.
    if identity.owner_id != request.user.pk or not permissions.can(
        request.user, "change", identity
    ):
        return _problem(request, "other_account", 403)
    if checked.problem == Problem.USED:
        return _problem(request, Problem.USED, 400)
    if request.method == "POST":
        if not verification.identity_verify(identity=identity):
            return _problem(request, Problem.USED, 400)
        messages.success(
            request,
            _("%(address)s is verified: your mailings may now be sent from it.")
            % {"address": identity.from_email},
        )
        return redirect("admin:content_senderidentity_changelist")
    return _page(request, title=_("Confirm this sender address"), identity=identity)
