"""Audiences: an owner's lists of clients, saved segments and suppressed addresses."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from apps.core.models import TimeStampedModel
from apps.core.validators import validate_no_control_characters, validate_no_newlines
from apps.mailings.models import Client

# Written by the database only (apps.audiences.counters).
COUNT_FIELDS = ("subscriber_count", "unconfirmed_count")


class ClientList(TimeStampedModel):
    """A named list of one owner's clients (members through `Subscription`)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="client_lists",
        verbose_name=_("owner"),
    )
    name = models.CharField(
        _("name"), max_length=200, validators=[validate_no_newlines]
    )
    description = models.TextField(
        _("description"), blank=True, validators=[validate_no_control_characters]
    )
    is_public = models.BooleanField(
        _("public"),
        default=False,
        help_text=_("Anyone with the link may subscribe through a public form."),
    )
    double_opt_in = models.BooleanField(
        _("double opt-in"),
        default=True,
        help_text=_("A new subscriber confirms by a link sent to their address."),
    )
    # The public form's address: reveals neither the id nor the number of lists.
    uuid = models.UUIDField(
        _("public identifier"), default=uuid.uuid4, unique=True, editable=False
    )
    # Kept exact by database triggers on the subscriptions (apps.audiences.counters);
    # never written by save() of an existing list (see save).
    subscriber_count = models.PositiveIntegerField(
        _("subscribers"), default=0, editable=False
    )
    unconfirmed_count = models.PositiveIntegerField(
        _("unconfirmed"), default=0, editable=False
    )
    clients: models.ManyToManyField[Client, Subscription] = models.ManyToManyField(
        Client,
        through="Subscription",
        related_name="client_lists",
        verbose_name=_("clients"),
    )

    class Meta:
        verbose_name = _("list")
        verbose_name_plural = _("lists")
        ordering = ["name"]
        indexes = [
            # The list of lists: one owner's, by name.
            models.Index(fields=["owner", "name"], name="clientlist_owner_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:audiences_clientlist_change", args=[self.pk])

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saving an existing list writes every column but the counts: the values
        in memory may be older than the triggers' (a stale instance saved after
        people subscribed would otherwise put the old numbers back)."""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = [
                name for name in update_fields if name not in COUNT_FIELDS
            ]
            if not kwargs["update_fields"]:
                return
        elif not self._state.adding and not kwargs.get("force_insert") and not args:
            deferred = self.get_deferred_fields()
            kwargs["update_fields"] = [
                field.attname
                for field in self._meta.concrete_fields
                if not field.primary_key
                and field.name not in COUNT_FIELDS
                and field.attname not in deferred
            ]
        super().save(*args, **kwargs)


class Subscription(models.Model):
    """A client's membership of a list."""

    class Status(models.TextChoices):
        UNCONFIRMED = "unconfirmed", _("Unconfirmed")
        SUBSCRIBED = "subscribed", _("Subscribed")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    client = models.ForeignKey(
        Client,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("client"),
    )
    client_list = models.ForeignKey(
        ClientList,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("list"),
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=Status.choices,
        default=Status.SUBSCRIBED,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "client_list"], name="subscription_client_list_unique"
            ),
        ]
        indexes = [
            # Run resolution and subscriber counts: a list's members by status.
            models.Index(
                fields=["client_list", "status", "client"],
                name="subscription_list_status_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} → {self.client_list_id}: {self.status}"


class Segment(TimeStampedModel):
    """Saved rules over an owner's clients, evaluated when a run starts."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="segments",
        verbose_name=_("owner"),
    )
    name = models.CharField(
        _("name"), max_length=200, validators=[validate_no_newlines]
    )
    # A list of conditions, all of which a client meets (see apps.audiences.segments).
    rules = models.JSONField(_("rules"), default=list, blank=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        indexes = [
            models.Index(fields=["owner", "name"], name="segment_owner_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:audiences_segment_change", args=[self.pk])


class Suppression(models.Model):
    """An address that is not sent to again: by its owner, or by anyone (site-wide)."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        HARD_BOUNCE = "hard_bounce", _("Hard bounce")
        COMPLAINT = "complaint", _("Complaint")
        MANUAL = "manual", _("Added by hand")

    email = models.EmailField(_("e-mail"), max_length=254)
    reason = models.CharField(
        _("reason"), max_length=12, choices=Reason.choices, default=Reason.MANUAL
    )
    # Empty: site-wide (hard bounces and complaints, managed by managers).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="suppressions",
        verbose_name=_("owner"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    source = models.CharField(
        _("source"),
        max_length=255,
        blank=True,
        validators=[validate_no_newlines],
        help_text=_("Where it comes from: a delivery, an import, a person."),
    )

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        ordering = ["-created_at"]
        permissions = [
            ("manage_sitewide_suppression", _("Can add and remove site-wide entries"))
        ]
        constraints = [
            # One entry per address and owner; run resolution looks them up by
            # (owner, lower(email)) through this index.
            models.UniqueConstraint(
                "owner",
                Lower("email"),
                condition=models.Q(owner__isnull=False),
                name="suppression_owner_email_unique",
            ),
            # One site-wide entry per address.
            models.UniqueConstraint(
                Lower("email"),
                condition=models.Q(owner__isnull=True),
                name="suppression_sitewide_email_unique",
            ),
        ]
        indexes = [
            # Run resolution: one look-up per recipient finds the owner's and the
            # site-wide entries of an address together.
            models.Index(Lower("email"), name="suppression_email_lower_idx"),
            # The owner's page, newest first, filtered by reason.
            models.Index(
                fields=["owner", "reason", "-created_at"],
                name="suppression_owner_reason_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display()})"

    @property
    def is_sitewide(self) -> bool:
        return self.owner_id is None


# Direct foreign-key object-permission tables (see apps/mailings/models.py).
class ClientListUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(ClientList, on_delete=models.CASCADE)


class SegmentUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Segment, on_delete=models.CASCADE)
