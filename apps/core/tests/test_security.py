"""Site-wide protections: the CSRF failure page, the Content-Security-Policy and the
refusal of a weak secret key in production."""

from __future__ import annotations

import pytest
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
