"""Account pages: registration, e-mail confirmation, password reset, lockout.

Every page is themed like Unfold's login page, so each view adds the admin site's
context (colours, styles, site title) to its own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView
from django.views.generic.base import ContextMixin
from django.views.generic.edit import FormMixin

from apps.users import forms, throttle
from apps.users.models import User
from apps.users.tokens import confirmation_token_generator

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

LOGIN_BACKEND = "apps.users.backends.EmailBackend"


class AdminThemeMixin(ContextMixin):
    """Add Unfold's site context so the page looks like the admin's login page."""

    title: StrOrPromise = ""
    # Set by the view this mixin is combined with.
    request: HttpRequest

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(admin.site.each_context(self.request))
        context["title"] = self.title
        return context


class AccountMailLimitMixin(FormMixin):
    """Refuse a valid submission with 429 past the per-address or site-wide limit.

    Only valid submissions count: they are the ones that send mail or create an
    account. The page says when to come back; ``Retry-After`` says it to machines.
    """

    rate_limit_action = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.get_form()
        if not form.is_valid():
            return self.form_invalid(form)
        retry_after = throttle.account_mail_retry_after(
            request=request, action=self.rate_limit_action
        )
        if retry_after is None:
            return self.form_valid(form)
        context = admin.site.each_context(request)
        context.update(
            {
                "title": _("Too many requests"),
                "retry_minutes": max(1, math.ceil(retry_after / 60)),
            }
        )
        response = render(request, "users/rate_limited.html", context, status=429)
        response["Retry-After"] = str(retry_after)
        return response


@method_decorator(sensitive_post_parameters("password1", "password2"), name="dispatch")
@method_decorator(never_cache, name="dispatch")
class RegisterView(AccountMailLimitMixin, AdminThemeMixin, FormView):
    """Template ``users/register.html``; context ``form``.

    The same redirect follows whether the address was new or taken.
    """

    template_name = "users/register.html"
    form_class = forms.RegistrationForm
    success_url = reverse_lazy("users:register_done")
    title = gettext_lazy("Create an account")
    rate_limit_action = "register"

    def form_valid(self, form: forms.RegistrationForm) -> HttpResponse:
        form.save()
        return super().form_valid(form)


class RegisterDoneView(AdminThemeMixin, TemplateView):
    """Template ``users/register_done.html``: "check your mailbox"."""

    template_name = "users/register_done.html"
    title = gettext_lazy("Check your mailbox")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        days = settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS
        context["confirmation_max_age_days"] = days
        return context


def _user_from_uidb64(uidb64: str) -> User | None:
    try:
        pk = urlsafe_base64_decode(uidb64).decode()
        return User.objects.filter(pk=pk).first()
    except (TypeError, ValueError, OverflowError, ValidationError):
        return None


@method_decorator(sensitive_post_parameters("password", "password2"), name="dispatch")
@method_decorator(never_cache, name="dispatch")
class ConfirmEmailView(AdminThemeMixin, FormView):
    """GET shows ``users/confirm.html`` with a password ``form``; only a POST confirms.

    Mail scanners follow links with GET, and must not use up the link. The link alone
    confirms nothing: the person who opened it types the registered password or sets
    a new one, and only that password works afterwards. A bad, expired, used or
    orphaned link shows ``users/confirm_invalid.html`` with status 400.
    """

    template_name = "users/confirm.html"
    form_class = forms.ConfirmEmailForm
    title = gettext_lazy("Confirm your e-mail address")

    def dispatch(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        self.person = _user_from_uidb64(kwargs["uidb64"])
        if not confirmation_token_generator.check_token(self.person, kwargs["token"]):
            return self.invalid()
        return super().dispatch(request, *args, **kwargs)

    def invalid(self) -> HttpResponse:
        self.template_name = "users/confirm_invalid.html"
        self.title = gettext_lazy("This link no longer works")
        return self.render_to_response(self.get_context_data(form=None), status=400)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "user": self.person}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["person"] = self.person
        return context

    def form_valid(self, form: forms.ConfirmEmailForm) -> HttpResponse:
        user = form.save()
        if not user.can_log_in:
            messages.error(self.request, forms.LoginForm.error_messages["blocked"])
            return redirect("admin:login")
        login(self.request, user, backend=LOGIN_BACKEND)
        messages.success(self.request, _("Your e-mail address is confirmed. Welcome!"))
        return redirect("admin:index")


@method_decorator(never_cache, name="dispatch")
class ResendConfirmationView(AccountMailLimitMixin, AdminThemeMixin, FormView):
    """Template ``users/resend.html``; the same answer for every address."""

    template_name = "users/resend.html"
    form_class = forms.ResendConfirmationForm
    success_url = reverse_lazy("users:resend_done")
    title = gettext_lazy("Get a new confirmation link")
    rate_limit_action = "resend"

    def form_valid(self, form: forms.ResendConfirmationForm) -> HttpResponse:
        form.save()
        return super().form_valid(form)


class ResendDoneView(AdminThemeMixin, TemplateView):
    template_name = "users/resend_done.html"
    title = gettext_lazy("Check your mailbox")


class PasswordResetView(
    AccountMailLimitMixin, AdminThemeMixin, auth_views.PasswordResetView
):
    template_name = "users/password_reset_form.html"
    form_class = forms.PasswordResetForm
    success_url = reverse_lazy("users:password_reset_done")
    title = gettext_lazy("Reset your password")
    rate_limit_action = "reset"


class PasswordResetDoneView(AdminThemeMixin, auth_views.PasswordResetDoneView):
    template_name = "users/password_reset_done.html"
    title = gettext_lazy("Check your mailbox")


class PasswordResetConfirmView(AdminThemeMixin, auth_views.PasswordResetConfirmView):
    template_name = "users/password_reset_confirm.html"
    form_class = forms.SetPasswordForm
    success_url = reverse_lazy("users:password_reset_complete")
    title = gettext_lazy("Choose a new password")


class PasswordResetCompleteView(AdminThemeMixin, auth_views.PasswordResetCompleteView):
    template_name = "users/password_reset_complete.html"
    title = gettext_lazy("Your password has been set")


def lockout(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout page (``AXES_LOCKOUT_CALLABLE``), in the admin's theme."""
    # axes.conf fills axes' defaults into Django's settings when imported; read them
    # through it, since Django's stubs know only the settings this project defines.
    from axes.conf import settings as axes_settings
    from axes.helpers import get_cool_off, get_failure_limit

    context = admin.site.each_context(request)
    context.update(
        {
            "title": _("Too many failed attempts"),
            "failure_limit": get_failure_limit(request, credentials),
            "cooloff_minutes": int(get_cool_off(request).total_seconds() // 60)
            if get_cool_off(request)
            else None,
        }
    )
    return render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        context,
        status=axes_settings.AXES_HTTP_RESPONSE_CODE,
    )
