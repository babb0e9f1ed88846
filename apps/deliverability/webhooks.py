"""ESP tracking webhooks (django-anymail) mapped onto the delivery ledger.

anymail authenticates each request its own way (basic auth with
``MAILSHOT_WEBHOOK_SECRET`` for Amazon SES, Postmark, SendGrid and Brevo; Mailgun's
signature with ``MAILSHOT_MAILGUN_WEBHOOK_SIGNING_KEY``) and normalises the events;
this module receives them through anymail's ``tracking`` signal:

* bounced — a bounce (hard, or soft when the ESP says so), as from the mailbox;
* complained — a complaint; unsubscribed — the recipient's own unsubscribe;
* opened / clicked — an open or click, like the tracking pixel and links.

A webhook finds its delivery by a Mailshot ``Message-ID`` anywhere in the event
(the ESP's own id, or the original headers it echoes), else by the recipient's
most recent delivery (see ``processing.match``). An ESP that is not configured
answers 404, never a server error.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from anymail.exceptions import AnymailError
from anymail.signals import AnymailTrackingEvent, EventType, tracking
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apps.deliverability import engagement, processing
from apps.deliverability.reports import (
    OUR_MESSAGE_ID_ANYWHERE,
    STATUS,
    Failure,
    Report,
)

logger = logging.getLogger(__name__)


def _anymail_views() -> dict[str, tuple[str, Callable[..., HttpResponse]]]:
    from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
    from anymail.webhooks.brevo import BrevoTrackingWebhookView
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView
    from anymail.webhooks.postmark import PostmarkTrackingWebhookView
    from anymail.webhooks.sendgrid import SendGridTrackingWebhookView

    return {
        "amazon_ses": ("WEBHOOK_SECRET", AmazonSESTrackingWebhookView.as_view()),
        "brevo": ("WEBHOOK_SECRET", BrevoTrackingWebhookView.as_view()),
        "mailgun": (
            "MAILGUN_WEBHOOK_SIGNING_KEY",
            MailgunTrackingWebhookView.as_view(),
        ),
        "postmark": ("WEBHOOK_SECRET", PostmarkTrackingWebhookView.as_view()),
        "sendgrid": ("WEBHOOK_SECRET", SendGridTrackingWebhookView.as_view()),
    }


ESPS = ("amazon_ses", "brevo", "mailgun", "postmark", "sendgrid")


def _guarded(esp: str) -> Callable[..., HttpResponse]:
    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        setting, real = _anymail_views()[esp]
        if not getattr(settings, "ANYMAIL", {}).get(setting):
            raise Http404("This webhook is not configured.")
        try:
            return real(request)
        except (AnymailError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # A body that is not what the ESP sends: say so, never a server error.
            logger.warning("webhook %s: unreadable request: %s", esp, exc)
            return HttpResponseBadRequest(
                "This is not a webhook request Mailshot reads."
            )

    return view


urlpatterns = [
    path(f"{esp}/tracking/", _guarded(esp), name=f"webhook_{esp}") for esp in ESPS
]


def _raw(event: AnymailTrackingEvent) -> str:
    try:
        return json.dumps(event.esp_event, default=str, sort_keys=True)
    except (TypeError, ValueError):
        return str(event.esp_event)


def _message_ids(event: AnymailTrackingEvent, raw: str) -> tuple[str, ...]:
    found = [event.message_id] if event.message_id else []
    found += OUR_MESSAGE_ID_ANYWHERE.findall(raw)
    return tuple(dict.fromkeys(str(value) for value in found))


def _is_soft(esp: str, data: Any) -> bool:
    """Whether the ESP itself calls a bounce temporary."""
    if not isinstance(data, dict):
        return False
    if esp == "postmark":
        return data.get("Type") in {"SoftBounce", "Transient", "DnsError"}
    if esp == "amazon_ses":
        return (data.get("bounce") or {}).get("bounceType") == "Transient"
    if esp == "mailgun":
        return (data.get("event-data") or {}).get("severity") == "temporary"
    if esp == "sendgrid":
        return data.get("type") == "blocked"
    if esp == "brevo":
        return data.get("event") == "soft_bounce"
    return False


def _report(event: AnymailTrackingEvent, esp: str, kind: str) -> Report:
    raw = _raw(event)
    fingerprint = hashlib.sha256(
        f"{esp}:{event.event_id or ''}:{event.event_type}:{raw}".encode()
    ).hexdigest()
    recipient = (event.recipient or "").strip().lower()
    if kind == "complaint":
        return Report(
            kind="complaint",
            fingerprint=fingerprint,
            complainants=(recipient,) if recipient else (),
            message_ids=_message_ids(event, raw),
        )
    diagnostic = " ".join(str(event.mta_response or event.description or "").split())
    status = STATUS.search(diagnostic)
    return Report(
        kind="bounce",
        fingerprint=fingerprint,
        failures=(
            Failure(
                email=recipient,
                status=status.group(0) if status else "",
                diagnostic=diagnostic[:500],
                permanent=not _is_soft(esp, event.esp_event),
            ),
        ),
        message_ids=_message_ids(event, raw),
    )


@receiver(tracking, dispatch_uid="mailshot-tracking-webhooks")
def on_tracking_event(
    sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    esp = esp_name.lower().replace(" ", "_")
    source = f"webhook:{esp}"[:40]
    kind = event.event_type
    if kind == EventType.BOUNCED:
        processing.apply(_report(event, esp, "bounce"), source=source)
    elif kind == EventType.COMPLAINED:
        processing.apply(_report(event, esp, "complaint"), source=source)
    elif kind in (EventType.OPENED, EventType.CLICKED, EventType.UNSUBSCRIBED):
        report = _report(event, esp, "bounce")
        delivery = processing.match(report, (event.recipient or "").lower())
        if delivery is None:
            return
        if kind == EventType.UNSUBSCRIBED:
            with transaction.atomic():
                processing.unsubscribe_from_owner(delivery, f"{esp} unsubscribe")
            return
        engagement.record(
            [
                engagement.Hit(
                    delivery_id=delivery.pk,
                    kind="open" if kind == EventType.OPENED else "click",
                    at=event.timestamp or timezone.now(),
                    user_agent=event.user_agent or "",
                    url=event.click_url or "",
                    source=source,
                )
            ]
        )


__all__ = ["ESPS", "urlpatterns"]
