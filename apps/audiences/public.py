"""The public pages of a list: its subscription form and the confirmation link.

They are pages of the public site (its base template, en/ru by the browser or the
switcher), open to anyone, and they answer the same whatever address is given."""

from __future__ import annotations

import math
from typing import Any
from uuid import UUID

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from apps.audiences import public_services
from apps.audiences.forms_public import SubscribeForm
from apps.audiences.models import ClientList
from apps.users import throttle


def _public_list(list_uuid: UUID) -> ClientList:
    client_list = public_services.public_lists().filter(uuid=list_uuid).first()
    if client_list is None:
        # Private, unknown and blocked owners' lists look alike.
        raise Http404
    return client_list


# The form may be embedded in any site (the snippet on the list's admin page is
# a plain <form> posting here), which cannot hold our CSRF token. Nothing here acts
# for a logged-in user or reads their session, so a forged request can do no more
# than anyone could do by posting the form: ask for a subscription of an address,
# which double opt-in and the rate limits are there for.
@csrf_exempt
@never_cache
def subscribe(request: HttpRequest, list_uuid: UUID) -> HttpResponse:
    """The public form of a list. Template ``audiences/public/subscribe.html``;
    context: ``client_list``, ``form``, ``done`` (after a valid submission: the
    same page for every address), ``double_opt_in``."""
    client_list = _public_list(list_uuid)
    form = SubscribeForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {
        "client_list": client_list,
        "form": form,
        "done": False,
        "double_opt_in": client_list.double_opt_in,
    }
    if request.method == "POST":
        if form.is_bot():
            # Told the same as a person, so that it learns nothing; nothing done.
            context["done"] = True
        elif form.is_valid():
            retry_after = throttle.account_mail_retry_after(
                request=request, action="subscribe"
            )
            if retry_after is not None:
                response = render(
                    request,
                    "audiences/public/rate_limited.html",
                    {
                        "client_list": client_list,
                        "retry_minutes": max(1, math.ceil(retry_after / 60)),
                    },
                    status=429,
                )
                response["Retry-After"] = str(retry_after)
                return response
            public_services.subscription_request(
                client_list=client_list,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                language=translation.get_language() or "",
            )
            context["done"] = True
    return render(request, "audiences/public/subscribe.html", context)


@never_cache
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the confirmation mail. A GET only shows the question (mail
    scanners open links); the button POSTs and confirms. Template
    ``audiences/public/confirm.html``; context: ``valid`` (False when the link is
    not, or no longer, valid), ``done``, ``email``, ``client_list``, ``token``."""
    context: dict[str, Any] = {"valid": False, "done": False, "token": token}
    if request.method == "POST":
        subscription = public_services.subscription_confirm(token=token)
        if subscription is not None:
            context.update(
                valid=True,
                done=True,
                email=subscription.client.email,
                client_list=subscription.client_list,
            )
    elif (asked := public_services.request_from_token(token)) is not None:
        context.update(valid=True, email=asked.email, client_list=asked.client_list)
    status = 200 if context["valid"] else 400
    return render(request, "audiences/public/confirm.html", context, status=status)


def subscribe_url(client_list: ClientList) -> str:
    """The absolute address of a list's public form."""
    path = reverse("audiences:subscribe", args=[client_list.uuid])
    return f"{settings.SITE_URL}{path}"


def embed_snippet(client_list: ClientList) -> str:
    """The HTML a list's owner pastes into their own site: a plain form posting to
    the list's public page (template ``audiences/public/embed_snippet.html``)."""
    return render_to_string(
        "audiences/public/embed_snippet.html",
        {"client_list": client_list, "subscribe_url": subscribe_url(client_list)},
    ).strip()
