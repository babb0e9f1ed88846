"""Forms of sender identities and footers (the admin builds its pages on them).

Both take the ``owner`` they are edited for: duplicates are checked among that
person's own rows (the owner is not a field of either form).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.content import footers, senders
from apps.content.models import FooterText, Language, SenderIdentity
from apps.users.models import User


def normalise_address(value: str) -> str:
    """An address as stored: trimmed, its domain in lower case."""
    local, at, domain = (value or "").strip().rpartition("@")
    return f"{local}@{domain.lower()}" if at else (value or "").strip()


class SenderIdentityForm(forms.ModelForm):
    class Meta:
        model = SenderIdentity
        fields = ["from_name", "from_email", "reply_to"]
        help_texts = {
            "from_name": _("The name recipients see, such as your shop's name."),
            "from_email": _(
                "A link is mailed to this address: mailings are sent from it once "
                "the link has been opened."
            ),
            "reply_to": _("Optional: where replies go, if not to the From address."),
        }

    def __init__(self, *args: Any, owner: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_from_name(self) -> str:
        name = (self.cleaned_data.get("from_name") or "").strip()
        # Mail readers decode "=?charset?...?=" anywhere in a name: the name shown
        # would not be the one typed here.
        if "=?" in name:
            raise ValidationError(
                gettext("A name cannot contain “=?”."), code="encoded_word"
            )
        return name

    def clean_from_email(self) -> str:
        address = normalise_address(self.cleaned_data["from_email"])
        owner_id = self.owner.pk if self.owner else self.instance.owner_id
        taken = SenderIdentity.objects.filter(
            owner_id=owner_id, from_email__iexact=address
        ).exclude(pk=self.instance.pk)
        if owner_id is not None and taken.exists():
            raise ValidationError(
                gettext("You have this sender address already."), code="duplicate"
            )
        return address

    def clean_reply_to(self) -> str:
        return normalise_address(self.cleaned_data.get("reply_to") or "")

    def address_changed(self) -> bool:
        """Saving this form makes (or keeps) the address unverified."""
        return self.instance.pk is None or "from_email" in self.changed_data


class FooterTextForm(forms.ModelForm):
    class Meta:
        model = FooterText
        fields = ["language", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args: Any, owner: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        text = self.fields["text"]
        text.help_text = footers.HELP_TEXT
        if self.instance.pk is None and not self.is_bound:
            language = translation.get_language() or Language.EN
            if language not in Language.values:
                language = Language.EN
            self.initial.setdefault("language", language)
            self.initial.setdefault("text", footers.default_text(language))

    def clean_text(self) -> str:
        text = (self.cleaned_data.get("text") or "").strip()
        footers.validate_footer_text(text)
        return text

    def clean_language(self) -> str:
        language: str = self.cleaned_data["language"]
        owner_id = self.owner.pk if self.owner else self.instance.owner_id
        taken = FooterText.objects.filter(owner_id=owner_id, language=language).exclude(
            pk=self.instance.pk
        )
        if owner_id is not None and taken.exists():
            raise ValidationError(
                gettext("You have a footer in this language already: change that one."),
                code="duplicate",
            )
        return language


def sender_choices_help(owner: User) -> str:
    """The help text of a mailing's sender field: what an empty choice means."""
    identity = senders.default_identity(owner)
    if identity is not None:
        return gettext("Empty: %(identity)s, your first verified sender.") % {
            "identity": identity
        }
    return gettext(
        "Empty: the site's address (%(from)s), replies to %(email)s. Add and verify "
        "a sender address to send as yourself."
    ) % {"from": senders.headers_for_owner(owner).from_header, "email": owner.email}
