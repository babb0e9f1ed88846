"""The public subscription form: an address, a name, and a field left empty by
people (bots fill it in)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.validators import validate_no_newlines

# The honeypot's name: a plausible field that a form-filling bot does not skip.
HONEYPOT = "website"


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    full_name = forms.CharField(
        label=_("Name"),
        max_length=255,
        required=False,
        validators=[validate_no_newlines],
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    # Hidden from people by the page's stylesheet (and by the embedded snippet's
    # own style); whatever fills it in is not a person.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT))

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()

    def clean_full_name(self) -> str:
        return self.cleaned_data["full_name"].strip()
