import secrets
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from apps.content.models import Language
from apps.core.models import TimeStampedModel
from apps.core.validators import validate_no_control_characters, validate_no_newlines

# The years a mailing may start and end in (UTC).
MAILING_DATES = (
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(2100, 1, 1, tzinfo=UTC),
)


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(24)


class Client(TimeStampedModel):
    """A recipient kept by one user."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="clients",
        verbose_name=_("owner"),
    )
    email = models.EmailField(_("e-mail"), max_length=254)
    full_name = models.CharField(
        _("full name"), max_length=255, blank=True, validators=[validate_no_newlines]
    )
    comment = models.TextField(
        _("comment"), blank=True, validators=[validate_no_control_characters]
    )
    # The owner's own fields (city, plan, …): used by segments and {{ attr.NAME }}.
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    is_unsubscribed = models.BooleanField(_("unsubscribed"), default=False)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)
    # Opaque per-recipient token for the List-Unsubscribe link (reveals no id).
    unsubscribe_token = models.CharField(
        _("unsubscribe token"),
        max_length=64,
        unique=True,
        default=new_unsubscribe_token,
        editable=False,
    )

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                "owner", Lower("email"), name="mailings_client_owner_email_ci_unique"
            ),
        ]
        indexes = [
            # The client list: one owner's clients ordered by e-mail.
            models.Index(fields=["owner", "email"], name="client_owner_email_idx"),
            # Home page: unique addresses across all mailings.
            models.Index(Lower("email"), name="client_email_lower_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def clean(self) -> None:
        super().clean()
        if self.email:
            self.email = self.email.strip()
            qs = Client.objects.filter(owner_id=self.owner_id, email__iexact=self.email)
            if self.owner_id and qs.exclude(pk=self.pk).exists():
                raise ValidationError(
                    {"email": _("You already have a client with this e-mail.")}
                )


class Message(TimeStampedModel):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("owner"),
    )
    subject = models.CharField(
        _("subject"), max_length=255, validators=[validate_no_newlines]
    )
    body = models.TextField(
        _("body"),
        blank=True,
        validators=[validate_no_control_characters],
        help_text=_(
            "The plain-text part. Leave it empty to make it from the HTML. "
            "{{ full_name }}, {{ email }}, {{ first_name }}, {{ unsubscribe_url }}, "
            "{{ today }} and {{ attr.NAME }} are replaced for each recipient."
        ),
    )
    body_html = models.TextField(
        _("HTML body"),
        blank=True,
        validators=[validate_no_control_characters],
        help_text=_(
            "Optional. With HTML the message goes out as HTML with a plain-text "
            "alternative."
        ),
    )
    layout = models.ForeignKey(
        "content.Layout",
        # Like a message in a mailing: a layout in use is not deleted on its own,
        # but deleting its owner takes both along.
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("layout"),
        help_text=_("Empty: the default layout."),
    )
    language = models.CharField(
        _("language"),
        max_length=2,
        choices=Language.choices,
        default=Language.EN,
        help_text=_("The footer and the unsubscribe page speak this language."),
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["owner", "-created_at"], name="message_owner_created_idx"
            )
        ]

    def __str__(self) -> str:
        return self.subject

    def save(self, *args: Any, **kwargs: Any) -> None:
        from apps.content.sanitize import message_html_sanitize

        # Every write path (admin, API, shell) stores e-mail-safe HTML.
        self.body_html = message_html_sanitize(self.body_html)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from apps.content.placeholders import validate_placeholders
        from apps.content.sanitize import message_html_sanitize

        super().clean()
        # Checked as it will be stored: the sanitiser may drop a placeholder that
        # sat in an attribute it removes.
        self.body_html = message_html_sanitize(self.body_html)
        errors: dict[str, list[ValidationError]] = {}
        for name in ("subject", "body", "body_html"):
            try:
                validate_placeholders(getattr(self, name))
            except ValidationError as error:
                errors[name] = [error]
        if errors:
            raise ValidationError(errors)
        if not self.body.strip() and not self.body_html.strip():
            raise ValidationError(
                {"body": _("Write the message: its text, its HTML or both.")}
            )
        layout = self.layout if self.layout_id else None
        if layout is not None and self.owner_id and layout.owner_id != self.owner_id:
            raise ValidationError({"layout": _("Choose one of your own layouts.")})


class Mailing(TimeStampedModel):
    class Periodicity(models.TextChoices):
        ONCE = "once", _("Once")
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="mailings",
        verbose_name=_("owner"),
    )
    message = models.ForeignKey(
        Message,
        # A message in use cannot be deleted on its own, but deleting its owner
        # (which deletes their mailings too) may take it along.
        on_delete=models.RESTRICT,
        related_name="mailings",
        verbose_name=_("message"),
    )
    clients = models.ManyToManyField(
        Client, related_name="mailings", verbose_name=_("clients"), blank=True
    )
    lists = models.ManyToManyField(
        "audiences.ClientList",
        related_name="mailings",
        verbose_name=_("lists"),
        blank=True,
    )
    segments = models.ManyToManyField(
        "audiences.Segment",
        related_name="mailings",
        verbose_name=_("segments"),
        blank=True,
    )
    to_all_clients = models.BooleanField(
        _("all my clients"),
        default=False,
        help_text=_("Every client you keep, now and when each run starts."),
    )
    sender = models.ForeignKey(
        "content.SenderIdentity",
        # Without its identity a mailing goes out as the owner's default sender.
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mailings",
        verbose_name=_("sender"),
        help_text=_("Empty: your first verified sender, else the site's address."),
    )
    start_at = models.DateTimeField(_("start"))
    end_at = models.DateTimeField(_("end"))
    periodicity = models.CharField(
        _("periodicity"),
        max_length=10,
        choices=Periodicity.choices,
        default=Periodicity.ONCE,
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=Status.choices,
        default=Status.CREATED,
        editable=False,
    )
    is_enabled = models.BooleanField(
        _("enabled"),
        default=True,
        help_text=_("Managers switch a mailing off; a disabled mailing sends nothing."),
    )
    is_paused = models.BooleanField(
        _("paused"),
        default=False,
        editable=False,
        help_text=_(
            "The owner's own switch: a paused mailing sends nothing until resumed."
        ),
    )
    next_run_at = models.DateTimeField(
        _("next run"), null=True, blank=True, editable=False
    )
    # Empty: the site's default (MAILSHOT_TRACKING).
    track_opens = models.BooleanField(
        _("track opens"),
        null=True,
        blank=True,
        help_text=_("A 1×1 image in HTML messages tells when a message was opened."),
    )
    track_clicks = models.BooleanField(
        _("track clicks"),
        null=True,
        blank=True,
        help_text=_("Links go through this site, which counts the click."),
    )

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-start_at"]
        permissions = [("toggle_mailing", _("Can disable and enable mailings"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_at__gt=models.F("start_at")),
                name="mailings_mailing_end_after_start",
            ),
        ]
        indexes = [
            # The scheduler tick: enabled, unfinished mailings whose next run is due.
            models.Index(
                fields=["is_enabled", "status", "next_run_at"], name="mailing_due_idx"
            ),
            models.Index(fields=["owner", "-start_at"], name="mailing_owner_start_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.message.subject}" if self.pk else str(self.message)

    def get_absolute_url(self) -> str:
        return reverse("admin:mailings_mailing_change", args=[self.pk])

    def clean(self) -> None:
        super().clean()
        # A start in year 1 or an end in year 9999 is a slip of the keyboard, and the
        # schedule's calendar arithmetic has no business that far out.
        outside = {
            name: _("Choose a date from 2000 to 2099.")
            for name in ("start_at", "end_at")
            if getattr(self, name)
            and not MAILING_DATES[0] <= getattr(self, name) < MAILING_DATES[1]
        }
        if outside:
            raise ValidationError(outside)
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValidationError({"end_at": _("The end must be after the start.")})
        if self.message_id and self.owner_id:
            if self.message.owner_id != self.owner_id:
                raise ValidationError(
                    {"message": _("Choose one of your own messages.")}
                )


class Attempt(models.Model):
    """One run of a mailing (not one per recipient); its deliveries are the ledger."""

    class Status(models.TextChoices):
        SUCCESS = "success", _("Success")
        PARTIAL = "partial", _("Partial")
        FAILURE = "failure", _("Failure")

    mailing = models.ForeignKey(
        Mailing,
        on_delete=models.CASCADE,
        related_name="attempts",
        verbose_name=_("mailing"),
    )
    attempted_at = models.DateTimeField(_("attempted at"), db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Empty while the run is in progress.
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, blank=True, default=""
    )
    server_response = models.CharField(_("server response"), max_length=500, blank=True)
    total_count = models.PositiveIntegerField(_("recipients"), default=0)
    sent_count = models.PositiveIntegerField(_("sent"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    # Lease of the worker that runs it: another worker may resume after it expires.
    lease_owner = models.CharField(_("worker"), max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    # The links of the message as this run sent them, in document order: a tracked
    # click redirects only to one of these (apps.deliverability.tracking).
    links = models.JSONField(_("links"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["-attempted_at"]
        constraints = [
            # At most one unfinished run per mailing: two workers starting the same
            # mailing at once cannot open two attempts (the loser resumes the winner's).
            models.UniqueConstraint(
                fields=["mailing"],
                condition=models.Q(finished_at__isnull=True),
                name="attempt_one_open_per_mailing",
            ),
        ]
        indexes = [
            models.Index(
                fields=["mailing", "-attempted_at"], name="attempt_mailing_time_idx"
            ),
            # Resuming interrupted runs: unfinished attempts by lease expiry.
            models.Index(
                fields=["finished_at", "lease_expires_at"], name="attempt_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mailing} @ {self.attempted_at:%Y-%m-%d %H:%M}"

    @property
    def is_finished(self) -> bool:
        return self.finished_at is not None


class Delivery(models.Model):
    """The per-recipient ledger of an attempt: claimed, then sent, failed or skipped."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        CLAIMED = "claimed", _("In progress")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    class BounceType(models.TextChoices):
        HARD = "hard", _("Hard")
        SOFT = "soft", _("Soft")

    attempt = models.ForeignKey(
        Attempt,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("attempt"),
    )
    client = models.ForeignKey(
        Client,
        on_delete=models.SET_NULL,
        null=True,
        related_name="deliveries",
        verbose_name=_("client"),
    )
    email = models.EmailField(_("e-mail"), max_length=254)
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING
    )
    server_response = models.CharField(_("server response"), max_length=500, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    claimed_by = models.CharField(_("worker"), max_length=100, blank=True)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    processed_at = models.DateTimeField(_("time"), null=True, blank=True)
    # What happened after the server accepted it (bounce mailbox, ESP webhooks,
    # tracking): filled by apps.deliverability.
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    bounce_type = models.CharField(
        _("bounce"),
        max_length=4,
        choices=BounceType.choices,
        blank=True,
        db_default="",  # the ledger is filled by INSERT … SELECT (sending.runs)
    )
    complained_at = models.DateTimeField(_("complaint at"), null=True, blank=True)
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("opens"), db_default=0)
    first_clicked_at = models.DateTimeField(_("first clicked"), null=True, blank=True)
    click_count = models.PositiveIntegerField(_("clicks"), db_default=0)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "client"], name="delivery_attempt_client_unique"
            ),
        ]
        indexes = [
            # Claiming the next batch of an attempt's unserved recipients.
            models.Index(
                fields=["attempt", "outcome"], name="delivery_attempt_outcome_idx"
            ),
            # Dashboard: deliveries per day.
            models.Index(fields=["processed_at"], name="delivery_processed_idx"),
            # A bounce without a token: the recipient's recent deliveries.
            models.Index(Lower("email"), name="delivery_email_lower_idx"),
            # A bounce without a token: the returned Message-ID.
            models.Index(fields=["message_id"], name="delivery_message_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_outcome_display()}"


# Direct foreign-key object-permission tables: guardian's generic table stores object
# ids as text behind a content type (no index-friendly join) and keeps its rows after
# the object is deleted; these join on a real key and cascade with the object.
class ClientUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Client, on_delete=models.CASCADE)


class MessageUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Message, on_delete=models.CASCADE)


class MailingUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Mailing, on_delete=models.CASCADE)


class AttemptUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Attempt, on_delete=models.CASCADE)


class ClientImport(TimeStampedModel):
    """One uploaded file of clients (CSV or XLSX), imported by a background task.

    The file waits in MAILSHOT_IMPORT_DIR (never in the database, never under the
    public media) until the task has read it. Counters and ``rows_done`` are saved
    in the same transaction as each batch of clients, so a task that is killed and
    handed out again carries on after the last saved batch.
    """

    class Status(models.TextChoices):
        PREVIEW = "preview", _("Waiting for your check")
        QUEUED = "queued", _("Waiting to start")
        CHECKING = "checking", _("Checking the file")
        IMPORTING = "importing", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Not imported")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="client_imports",
        verbose_name=_("owner"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    file_format = models.CharField(_("format"), max_length=4, choices=Format.choices)
    file_name = models.CharField(_("file"), max_length=255)
    # Where the upload waits, inside MAILSHOT_IMPORT_DIR (a random name).
    stored_name = models.CharField(max_length=64, editable=False)
    rows_checked = models.PositiveIntegerField(_("rows checked"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows imported"), default=0)
    created_count = models.PositiveIntegerField(_("new"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    duplicate_count = models.PositiveIntegerField(_("repeated rows"), default=0)
    # Addresses suppressed or unsubscribed: imported, never subscribed to the list.
    suppressed_count = models.PositiveIntegerField(_("suppressed"), default=0)
    # How the file is read (encoding, delimiter, column → field), confirmed on the
    # preview page: import_files.ReadOptions.as_json().
    options = models.JSONField(_("reading options"), default=dict, blank=True)
    client_list = models.ForeignKey(
        "audiences.ClientList",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("list"),
    )
    error_count = models.PositiveIntegerField(_("problems"), default=0)
    # The first problems found, each {"line", "column", "message", "value"}.
    errors = models.JSONField(_("problems found"), default=list, blank=True)
    # Why the file as a whole was refused (format, limits) or the import stopped.
    problem = models.TextField(_("problem"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("client import")
        verbose_name_plural = _("client imports")
        ordering = ["-created_at"]
        indexes = [
            # "You already have an import in progress": one person's unfinished jobs.
            models.Index(fields=["owner", "status"], name="clientimport_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        return reverse("admin:mailings_client_import_status", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
