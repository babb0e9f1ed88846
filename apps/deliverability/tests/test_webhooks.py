"""ESP tracking webhooks with each provider's documented payload shapes, through
django-anymail's authentication and normalisation, onto a hand-built ledger."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audiences.models import Suppression
from apps.deliverability.models import BounceEvent, Engagement
from apps.mailings import emails
from apps.mailings.models import Attempt, Delivery
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db

SECRET = "hook:s3cret-webhook-password"
SIGNING_KEY = "key-mailgun-signing"


@pytest.fixture(autouse=True)
def _anymail(settings):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": SECRET,
        "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    }


@pytest.fixture
def delivery(alice):
    mailing = MailingFactory(owner=alice)
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=timezone.now(), finished_at=timezone.now()
    )
    client = ClientFactory.create(owner=alice, email="recipient@example.com")
    row = Delivery.objects.create(
        attempt=attempt,
        client=client,
        email=client.email,
        outcome=Delivery.Outcome.SENT,
        processed_at=timezone.now() - timedelta(hours=1),
    )
    row.message_id = emails.make_message_id(attempt_id=attempt.pk, delivery_id=row.pk)
    row.save(update_fields=["message_id"])
    return row


def basic(secret: str = SECRET) -> dict[str, str]:
    token = base64.b64encode(secret.encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def post(client, esp: str, payload, **extra):
    return client.post(
        f"/webhooks/{esp}/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        **extra,
    )


def mailgun_signed(event_data: dict) -> dict:
    timestamp, token = (
        "1764500000",
        "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0",
    )
    signature = hmac.new(
        SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def ses_notification(ses_event: dict) -> dict:
    return {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-11-30T10:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def test_amazon_ses_permanent_bounce(client, delivery):
    ses_event = {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "recipient@example.com",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-11-30T10:00:00.000Z",
            "feedbackId": "0100015f-bounce",
        },
        "mail": {
            "timestamp": "2026-11-30T09:59:00.000Z",
            "source": "noreply@mailshot.example",
            "messageId": "0100015f-ses-own-id-000000",
            "destination": ["recipient@example.com"],
            "headers": [{"name": "Message-ID", "value": delivery.message_id}],
            "commonHeaders": {"messageId": delivery.message_id},
        },
    }

    response = post(
        client,
        "amazon_ses",
        ses_notification(ses_event),
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        **basic(),
    )

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.bounce_type == "hard"
    assert Suppression.objects.get(owner=None).reason == "hard_bounce"
    assert BounceEvent.objects.get().source == "webhook:amazon_ses"


def test_mailgun_temporary_failure_is_a_soft_bounce(client, delivery):
    payload = mailgun_signed(
        {
            "event": "failed",
            "severity": "permanent",
            "reason": "bounce",
            "id": "G9Bn5sl1TC6Ex0hIsbsZnA",
            "timestamp": 1764500000.0,
            "recipient": "recipient@example.com",
            "message": {"headers": {"message-id": delivery.message_id.strip("<>")}},
            "delivery-status": {
                "code": 552,
                "message": "5.2.2 The email account you tried to reach is over quota",
                "description": "",
            },
        }
    )

    # With MAILSHOT_WEBHOOK_SECRET set, anymail asks every ESP for it too:
    # the URL given to Mailgun carries it (https://user:password@host/…).
    response = post(client, "mailgun", payload, **basic())

    assert response.status_code == 200
    delivery.refresh_from_db()
    # Mailbox full: a 5.2.2 is about the mailbox's state, not a dead address.
    assert delivery.bounce_type == "soft"
    assert not Suppression.objects.exists()


def test_mailgun_with_a_wrong_signature_is_refused(client, delivery):
    payload = mailgun_signed({"event": "opened", "recipient": "recipient@example.com"})
    payload["signature"]["signature"] = "0" * 64

    response = post(client, "mailgun", payload, **basic())

    assert response.status_code == 400
    assert not Engagement.objects.exists()


def test_postmark_spam_complaint(client, delivery, alice):
    payload = {
        "RecordType": "SpamComplaint",
        "MessageStream": "outbound",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "Description": "The subscriber explicitly marked this message as spam.",
        "Details": "Test spam complaint details",
        "Email": "recipient@example.com",
        "From": "noreply@mailshot.example",
        "BouncedAt": "2026-11-30T10:00:00Z",
        "Subject": "Hello",
        "Content": f"Message-ID: {delivery.message_id}",
    }

    response = post(client, "postmark", payload, **basic())

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.complained_at is not None
    assert Suppression.objects.get(owner=None).reason == "complaint"
    assert Suppression.objects.get(owner=alice).reason == "unsubscribed"


def test_postmark_without_the_password_is_refused(client, delivery):
    response = post(client, "postmark", {"RecordType": "Open"}, **basic("hook:wrong"))

    assert response.status_code == 400


def test_sendgrid_open_and_click(client, delivery):
    sent = int((timezone.now() - timedelta(minutes=5)).timestamp())
    payload = [
        {
            "email": "recipient@example.com",
            "timestamp": sent,
            "smtp-id": delivery.message_id,
            "event": "open",
            "sg_event_id": "sg-open-1",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001",
            "useragent": "Mozilla/5.0 (Windows NT 10.0)",
            "ip": "255.255.255.255",
        },
        {
            "email": "recipient@example.com",
            "timestamp": sent + 30,
            "smtp-id": delivery.message_id,
            "event": "click",
            "sg_event_id": "sg-click-1",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001",
            "useragent": "Mozilla/5.0 (Windows NT 10.0)",
            "url": "https://shop.example/sale",
        },
    ]

    response = post(client, "sendgrid", payload, **basic())

    assert response.status_code == 200
    delivery.refresh_from_db()
    assert (delivery.open_count, delivery.click_count) == (1, 1)
    assert delivery.first_opened_at is not None
    click = Engagement.objects.get(kind="click")
    assert click.url == "https://shop.example/sale"
    assert click.source == "webhook:sendgrid"


def test_brevo_unsubscribe_is_the_recipients_own(client, delivery, alice):
    payload = {
        "event": "unsubscribe",
        "email": "recipient@example.com",
        "id": 123456,
        "date": "2026-11-30 10:00:00",
        "ts": 1764500000,
        "message-id": delivery.message_id,
        "ts_event": 1764500000,
        "subject": "Hello",
    }

    response = post(client, "brevo", payload, **basic())

    assert response.status_code == 200
    assert Suppression.objects.get(owner=alice).reason == "unsubscribed"
    delivery.client.refresh_from_db()
    assert delivery.client.is_unsubscribed


def test_an_unconfigured_esp_is_a_404(client, settings, delivery):
    settings.ANYMAIL = {}

    response = post(client, "postmark", {"RecordType": "Open"})

    assert response.status_code == 404


@pytest.mark.parametrize("body", ["{not json", "[]]", '"a string"'])
def test_a_garbled_body_is_a_400_not_a_500(client, delivery, body):
    response = client.post(
        "/webhooks/brevo/tracking/",
        data=body,
        content_type="application/json",
        **basic(),
    )

    assert response.status_code == 400
