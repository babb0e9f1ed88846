from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.mailings.models import Delivery


class BounceEvent(models.Model):
    """One finding of a bounce or complaint report, matched to a delivery or not.

    ``fingerprint`` (the report's SHA-256) and ``email`` make processing idempotent:
    a report read twice (a crash between committing and flagging it in the mailbox)
    changes nothing the second time. Unmatched reports are kept (``delivery`` empty)
    and counted, never dropped.
    """

    class Kind(models.TextChoices):
        HARD = "hard", _("Hard bounce")
        SOFT = "soft", _("Soft bounce")
        COMPLAINT = "complaint", _("Complaint")
        UNMATCHED = "unmatched", _("Not matched")

    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    status = models.CharField(_("status"), max_length=10, blank=True)
    diagnostic = models.CharField(_("diagnostic"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=40)
    fingerprint = models.CharField(max_length=64, editable=False)
    delivery = models.ForeignKey(
        Delivery,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bounce_events",
        verbose_name=_("delivery"),
    )

    class Meta:
        verbose_name = _("bounce report")
        verbose_name_plural = _("bounce reports")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint", "email"], name="bounceevent_once"
            ),
        ]
        indexes = [
            # Three soft bounces within 30 days suppress an address.
            models.Index(
                fields=["email", "kind", "received_at"], name="bounce_email_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.email or '?'}"


class Engagement(models.Model):
    """One open or click of a delivery (the tracking pixel, a tracked link or an ESP
    webhook). Machine events (image proxies fetching at delivery, link scanners
    clicking within seconds) are kept but flagged, and left out of the delivery's
    counters and of every unique count (see apps.deliverability.engagement)."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        CLICK = "click", _("Click")

    delivery = models.ForeignKey(
        Delivery,
        on_delete=models.CASCADE,
        related_name="engagements",
        verbose_name=_("delivery"),
    )
    kind = models.CharField(_("kind"), max_length=5, choices=Kind.choices)
    at = models.DateTimeField(_("time"))
    # Clicks: which link of the message (0-based, in document order) and where to.
    link_index = models.PositiveSmallIntegerField(_("link"), null=True, blank=True)
    url = models.CharField(_("address"), max_length=2000, blank=True)
    is_machine = models.BooleanField(_("by a machine"), default=False)
    source = models.CharField(_("source"), max_length=40, default="tracking")

    class Meta:
        verbose_name = _("open or click")
        verbose_name_plural = _("opens and clicks")
        ordering = ["at"]
        indexes = [
            models.Index(fields=["delivery", "kind"], name="engagement_delivery_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"
