"""Site-wide protections: the CSRF failure page, the Content-Security-Policy and the
refusal of a weak secret key in production."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client as HttpClient

pytestmark = pytest.mark.django_db


# --- CSRF failure page ---


@pytest.mark.parametrize(
    ("language", "title", "advice"),
    [
        ("en", "The form has expired", "reload the page"),
        ("ru", "Форма устарела", "обновите страницу"),
    ],
)
def test_a_csrf_failure_shows_the_sites_own_translated_page(language, title, advice):
    browser = HttpClient(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE=language)

    response = browser.post("/accounts/register/", {"email": "x@example.org"})

    assert response.status_code == 403
    body = response.content.decode()
    assert title in body
    assert advice in body
    assert 'class="site-header"' in body  # the public site's look
    assert "CSRF verification failed" not in body  # not Django's English page


def test_the_csrf_page_says_when_the_browser_sent_no_cookie():
    browser = HttpClient(enforce_csrf_checks=True)

    response = browser.post("/accounts/register/", {"email": "x@example.org"})

    assert "Allow cookies for this site" in response.content.decode()


def test_the_csrf_page_is_also_what_an_expired_admin_login_form_shows(superuser):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.get("/admin/login/")  # sets the CSRF cookie

    response = browser.post(
        "/admin/login/", {"username": superuser.email, "password": "x"}
    )

    assert response.status_code == 403
    assert "The form has expired" in response.content.decode()


# --- the secret key ---

STRONG = "q0Zt3-Vb8_rNcW1xJkLm9sPaE4yHdU7fGiO2TeRwYn5BvXzQ6jKlMpCgSuAhDo"


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("short-but-random-Zt3Vb8rNcW1x", "shorter than 50"),
        ("django-insecure-" + STRONG, "django-insecure-"),
        ("prod-check-" + "k" * 50, "entropy"),
        ("abcdefgh" * 8, "entropy"),
        ("Aa1" * 20, "entropy"),
    ],
)
def test_a_weak_secret_key_is_named_with_its_weakness(key, why):
    from apps.core.validators import secret_key_weakness

    assert why in secret_key_weakness(key)


@pytest.mark.parametrize(
    "make",
    [
        lambda: STRONG,
        lambda: __import__("secrets").token_urlsafe(50),
        lambda: __import__("secrets").token_hex(32),
        lambda: __import__(
            "django.core.management.utils", fromlist=["x"]
        ).get_random_secret_key(),
    ],
)
def test_generated_secret_keys_are_accepted(make):
    from apps.core.validators import secret_key_weakness

    for _ in range(20):
        assert secret_key_weakness(make()) is None


def _start(tmp_path, **environ) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MAILSHOT_TESTING": "0",
        "MAILSHOT_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "key", ["django-insecure-" + STRONG, "change-me", "prod-check-" + "k" * 50]
)
def test_production_refuses_to_start_with_a_weak_secret_key(tmp_path, key):
    started = _start(tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY=key)

    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "DJANGO_SECRET_KEY is too weak" in started.stderr
    assert "token_urlsafe" in started.stderr  # says how to make a good one


def test_production_starts_with_a_strong_key_and_debug_with_a_weak_one(tmp_path):
    assert _start(tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY=STRONG).returncode == 0
    assert _start(tmp_path, DJANGO_DEBUG="1", DJANGO_SECRET_KEY="dev").returncode == 0


# --- Content-Security-Policy ---


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part)


@pytest.mark.parametrize("path", ["/", "/blog/", "/no-such-page/"])
def test_the_public_site_runs_only_its_own_scripts_and_styles(client, path):
    policy = _policy(client.get(path))

    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'"


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/", "/accounts/register/"])
def test_the_admin_allows_what_unfold_and_ckeditor_need_and_nothing_foreign(
    superuser, login, path
):
    policy = _policy(login(superuser).get(path))

    # Unfold's Alpine.js evaluates its x-data expressions with new Function; Unfold,
    # htmx and CKEditor 5 set inline styles. Still no inline script, no other origin.
    assert policy["script-src"] == "'self' 'unsafe-eval'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert "'unsafe-inline'" not in policy["script-src"]
    assert all("http" not in value and "*" not in value for value in policy.values())


def test_the_healthz_json_carries_the_policy_too(client):
    assert _policy(client.get("/healthz"))["default-src"] == "'self'"
