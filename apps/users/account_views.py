"""The logged-in person's own pages: account settings (name, time zone) and a logout
page that answers a typed ``/admin/logout/`` (Django's logout is POST-only and would
show a blank 405)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from apps.users.forms import AccountSettingsForm
from apps.users.models import User


def account_links(request: HttpRequest) -> list[dict[str, Any]]:
    """The user menu of the admin (Unfold's ``ACCOUNT.navigation``): the settings
    page, and "Change password" for an account that has one."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    links: list[dict[str, Any]] = [
        {"title": _("My settings"), "link": reverse("users:settings")}
    ]
    if user.has_usable_password():
        links.append(
            {"title": _("Change password"), "link": reverse("admin:password_change")}
        )
    from apps.api.selectors import may_use_api

    if may_use_api(user):
        # The person's API keys and the API's reference.
        links.append({"title": _("API keys"), "link": "/admin/api/apikey/"})
        links.append({"title": _("API documentation"), "link": "/api/v1/docs"})
    return links


def _settings_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # admin_view lets only staff members in
    form = AccountSettingsForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your settings were saved."))
        return redirect("users:settings")
    context = {
        **admin.site.each_context(request),
        "title": _("My settings"),
        "form": form,
    }
    return render(request, "users/settings.html", context)


# Staff only, like every admin page: anybody else is sent to the login page.
settings_view = admin.site.admin_view(_settings_view)


@never_cache
def logout_view(request: HttpRequest) -> HttpResponseBase:
    """GET: a page with a "Log out" button (a typed URL, an old bookmark); POST:
    the admin's own logout."""
    if request.method == "POST":
        return admin.site.logout(request)
    if not request.user.is_authenticated:
        return redirect("admin:login")
    context = {**admin.site.each_context(request), "title": _("Log out")}
    return render(request, "users/logout.html", context)
