"""API keys and the responses kept for ``Idempotency-Key`` replays."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A person's key to the API: ``ms_<prefix>_<secret>``.

    Only the prefix (to find the row, and for people to tell their keys apart) and
    the SHA-256 of the whole key are stored: the key itself is shown once, when it
    is made. A high-entropy random key needs no slow password hash.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        READ_WRITE = "read_write", _("Read and write")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(
        _("scope"), max_length=10, choices=Scope.choices, default=Scope.READ
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("Leave empty for a key that does not expire."),
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        indexes = [
            # A person's own keys in the admin, newest first.
            models.Index(fields=["owner", "-created_at"], name="apikey_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (ms_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class IdempotentResponse(models.Model):
    """The first response to a POST made with an ``Idempotency-Key``: the same key
    again replays it instead of creating a second object."""

    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, related_name="idempotent_responses"
    )
    key = models.CharField(max_length=255)
    # What the first request was (method, path, body): another request with the
    # same key is refused rather than answered with an unrelated response.
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Two requests racing with one key: the database lets one through.
            models.UniqueConstraint(
                fields=["api_key", "key"], name="idempotent_response_key_unique"
            ),
        ]
        indexes = [
            # Forgetting old responses.
            models.Index(fields=["created_at"], name="idempotent_response_age_idx"),
        ]

    def __str__(self) -> str:
        return self.key
