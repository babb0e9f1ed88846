"""Helpers for the account tests: post a form and let its queued mail go out."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from apps.core.smtpsink import Received

STRONG_PASSWORD = "Plum-orchard-47-lanterns"


def links_in(received: Received) -> list[str]:
    """Every http(s) link in the text part of a received message."""
    body = received.message.get_body(preferencelist=("plain",))
    assert body is not None, "the message has no text part"
    text = body.get_content()
    return re.findall(r"https?://\S+", text)


def link_to(received: Received, fragment: str) -> str:
    """The one link in the message whose URL contains ``fragment``."""
    found = [link for link in links_in(received) if fragment in link]
    assert len(found) == 1, f"expected one {fragment} link, got {found}"
    return found[0]


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture(autouse=True)
def _forget_recent_account_mail():
    """Account mail is limited per account and minute (in the cache); ids repeat
    between tests, so each test starts with a clean slate."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def post_and_commit(django_capture_on_commit_callbacks):
    """post(client, url, data) -> response, with on-commit callbacks (the queued
    mail) run as they would be once the request's transaction commits."""

    def _post(client: Client, url: str, data: dict, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, **kwargs)

    return _post


@pytest.fixture
def register(post_and_commit):
    """register(email, **fields) -> response of a registration by a new visitor."""

    def _register(email: str, client: Client | None = None, **fields):
        data = {
            "email": email,
            "first_name": "Dana",
            "last_name": "",
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
            **fields,
        }
        return post_and_commit(client or Client(), "/accounts/register/", data)

    return _register
