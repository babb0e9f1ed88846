from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from guardian.models import UserObjectPermissionBase

from apps.core.models import TimeStampedModel
from apps.core.validators import validate_no_control_characters, validate_no_newlines


class Language(models.TextChoices):
    """The languages a message, its footer and its unsubscribe page speak."""

    EN = "en", _("English")
    RU = "ru", _("Russian")


class Layout(TimeStampedModel):
    """An owner's HTML frame around messages: ``{{ content }}`` marks where the
    message goes, ``{{ unsubscribe_url }}`` must appear in it."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="layouts",
        verbose_name=_("owner"),
    )
    name = models.CharField(
        _("name"), max_length=200, validators=[validate_no_newlines]
    )
    html = models.TextField(_("HTML"), validators=[validate_no_control_characters])

    class Meta:
        verbose_name = _("layout")
        verbose_name_plural = _("layouts")
        ordering = ["name"]
        indexes = [
            # One owner's layouts by name (list page, the message form's choices).
            models.Index(fields=["owner", "name"], name="layout_owner_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:content_layout_change", args=[self.pk])

    def save(self, *args: Any, **kwargs: Any) -> None:
        from apps.content.sanitize import layout_html_sanitize

        self.html = layout_html_sanitize(self.html)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from apps.content.placeholders import (
            CONTENT,
            PLACEHOLDER,
            validate_layout_placeholders,
        )
        from apps.content.sanitize import layout_html_sanitize

        super().clean()
        # Checked as it will be stored (the sanitiser drops what mail must not carry).
        self.html = layout_html_sanitize(self.html)
        problems: list[ValidationError] = []
        try:
            validate_layout_placeholders(self.html)
        except ValidationError as error:
            problems.append(error)
        if not CONTENT.search(self.html):
            problems.append(
                ValidationError(
                    _("A layout needs {{ content }}: where the message goes."),
                    code="content",
                )
            )
        names = {m.group("name") for m in PLACEHOLDER.finditer(self.html)}
        has_link = "unsubscribe_url" in names
        if not has_link:
            problems.append(
                ValidationError(
                    _(
                        "A layout needs {{ unsubscribe_url }}: every message has "
                        "to tell its reader how to unsubscribe."
                    ),
                    code="unsubscribe",
                )
            )
        if problems:
            raise ValidationError({"html": problems})


class SenderIdentity(models.Model):
    """A From name and address (and Reply-To) an owner sends as, once verified."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sender_identities",
        verbose_name=_("owner"),
    )
    from_name = models.CharField(
        _("From name"), max_length=100, blank=True, validators=[validate_no_newlines]
    )
    from_email = models.EmailField(_("From address"), max_length=254)
    reply_to = models.EmailField(_("Reply-To"), max_length=254, blank=True)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("sender identity")
        verbose_name_plural = _("sender identities")
        ordering = ["created_at", "id"]
        indexes = [
            # A mailing's default sender: the owner's first verified identity.
            models.Index(
                fields=["owner", "verified_at"], name="senderidentity_owner_idx"
            ),
        ]

    def __str__(self) -> str:
        if self.from_name:
            return f"{self.from_name} <{self.from_email}>"
        return self.from_email

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class FooterText(TimeStampedModel):
    """An owner's own footer for messages in one language."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="footer_texts",
        verbose_name=_("owner"),
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    text = models.TextField(_("text"), validators=[validate_no_control_characters])

    class Meta:
        verbose_name = _("footer")
        verbose_name_plural = _("footers")
        ordering = ["language"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "language"], name="footertext_owner_language_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_language_display()}"


# Direct foreign-key object-permission tables (see apps.mailings.models).
class LayoutUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Layout, on_delete=models.CASCADE)


class SenderIdentityUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(SenderIdentity, on_delete=models.CASCADE)
