"""Account forms, styled like Unfold's login form."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from unfold.forms import AuthenticationForm as UnfoldAuthenticationForm
from unfold.widgets import BASE_INPUT_CLASSES

from apps.users import services
from apps.users.models import User


def known_time_zone(name: str) -> str:
    """`name` when it is an IANA zone this machine knows, else "UTC"."""
    name = (name or "").strip()
    if name and name in zone_names():
        return name
    return "UTC"


@functools.cache
def zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class UnfoldStyleMixin:
    """Give every input the classes Unfold's own login form uses."""

    # Provided by the form this mixin is combined with.
    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = " ".join(BASE_INPUT_CLASSES)


class RegistrationForm(UnfoldStyleMixin, forms.Form):
    """Deliberately no uniqueness check: the answer must not reveal taken addresses."""

    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    first_name = forms.CharField(
        label=_("First name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Enter the same password as before, for verification."),
    )
    # Filled by static/js/time-zone.js with the browser's zone; editable later on the
    # account settings page.
    time_zone = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.HiddenInput(attrs={"data-time-zone": ""}),
    )

    def clean_email(self) -> str:
        return User.objects.normalize_email(self.cleaned_data["email"]).strip().lower()

    def clean_time_zone(self) -> str:
        """The browser's zone when it is a known IANA name, else UTC: the person
        never saw the field, so an odd value is not theirs to correct."""
        return known_time_zone(self.cleaned_data.get("time_zone", ""))

    def _clean_name(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if "\n" in value or "\r" in value:
            raise ValidationError(_("A name must fit on one line."), code="newline")
        return value

    def clean_first_name(self) -> str:
        return self._clean_name("first_name")

    def clean_last_name(self) -> str:
        return self._clean_name("last_name")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error(
                "password2",
                ValidationError(
                    _("The two passwords do not match."), code="password_mismatch"
                ),
            )
        elif password1:
            # Validate against the would-be account, so a password too like the
            # address or the name is refused.
            candidate = User(
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned

    def save(self) -> None:
        services.user_register(
            email=self.cleaned_data["email"],
            password=self.cleaned_data["password1"],
            first_name=self.cleaned_data["first_name"],
            last_name=self.cleaned_data["last_name"],
            language=get_language(),
            time_zone=self.cleaned_data.get("time_zone") or "UTC",
        )


class ConfirmEmailForm(UnfoldStyleMixin, forms.Form):
    """The confirmation page's password: the registered one, or a new one typed twice.

    Whatever is accepted here becomes the account's only password. Someone who
    registered another person's address knows the registered password but never sees
    this page (the link goes to the mailbox); the mailbox's owner either registered
    themselves (and types that password once) or chooses a new one.
    """

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "autofocus": True}
        ),
        help_text=_(
            "The password you registered with. If you did not register, or want "
            "another one, type a new password."
        ),
    )
    password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        # The second field is shown once a password other than the registered one
        # was typed (or when the page is posted with both).
        self.needs_repeat = bool(self.data.get("password2"))

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        password = cleaned.get("password")
        if not password or self.user.check_password(password):
            return cleaned
        self.needs_repeat = True
        repeat = cleaned.get("password2")
        if not repeat:
            self.add_error(
                "password2",
                ValidationError(
                    _(
                        "This is not the password this address was registered with. "
                        "To make it the password of your account, type it again."
                    ),
                    code="repeat",
                ),
            )
        elif repeat != password:
            self.add_error(
                "password2",
                ValidationError(
                    _("The two passwords do not match."), code="password_mismatch"
                ),
            )
        else:
            try:
                password_validation.validate_password(password, self.user)
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned

    def save(self) -> User:
        return services.user_confirm_email(
            user=self.user, password=self.cleaned_data["password"]
        )


class ResendConfirmationForm(UnfoldStyleMixin, forms.Form):
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def save(self) -> None:
        services.user_resend_confirmation(
            email=self.cleaned_data["email"], language=get_language()
        )


class LoginForm(UnfoldAuthenticationForm):
    """Unfold's admin login form, telling the right person why they were refused.

    Someone who gave the right password for a blocked or an unconfirmed account learns
    why they cannot log in (and how to get a new confirmation link); anybody else gets
    the usual "wrong e-mail or password". While django-axes has the address locked
    out, nothing is checked at all.
    """

    error_messages = {
        **UnfoldAuthenticationForm.error_messages,
        "blocked": _(
            "This account has been blocked by a manager. Please contact support "
            "if you think this is a mistake."
        ),
        "unconfirmed": _(
            "Your e-mail address is not confirmed yet. Open the link we sent you, "
            "or ask for a new one below."
        ),
    }

    refusal: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Django sets the username's max_length after the field is built, so nothing
        # enforces it: an oversized name would reach authenticate() and django-axes,
        # which stores it in a 255-character column (a 500 on PostgreSQL).
        field = self.fields["username"]
        field.validators.append(MaxLengthValidator(field.max_length))

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            locked_out = getattr(self.request, "axes_locked_out", False)
            if self.user_cache is None and not locked_out:
                self.refusal = services.login_refusal_reason(
                    email=self.cleaned_data.get("username") or "",
                    password=self.cleaned_data.get("password") or "",
                )
                if self.refusal:
                    raise ValidationError(
                        self.error_messages[self.refusal], code=self.refusal
                    ) from None
            raise


class PasswordResetForm(UnfoldStyleMixin, auth_forms.PasswordResetForm):
    """Django's form, but the mail is built by apps.users.emails in a queued task."""

    def get_users(self, email):
        return (
            user
            for user in super().get_users(email)
            if not user.is_blocked  # they could not log in with a new one either
        )

    def save(self, *args, **kwargs) -> None:
        for user in self.get_users(self.cleaned_data["email"]):
            services.user_request_password_reset(user=user, language=get_language())


class SetPasswordForm(UnfoldStyleMixin, auth_forms.SetPasswordForm):
    def save(self, commit: bool = True):
        user = super().save(commit=commit)
        if commit and not user.email_confirmed:
            # The reset link reached the mailbox: that confirms the address as well,
            # and the new password locks out whoever else may have registered it.
            services.user_confirm_email(user=user)
        return user


class AccountSettingsForm(forms.ModelForm):
    """The person's own settings: name and time zone."""

    class Meta:
        model = User
        fields = ["first_name", "last_name", "time_zone"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = " ".join(BASE_INPUT_CLASSES)
        self.fields["time_zone"].help_text = _(
            "Dates and times in the admin are shown and entered in this zone; "
            "recurring mailings keep its clock time across daylight-saving changes."
        )
