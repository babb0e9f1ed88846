"""Persona fixtures shared by every test: alice and bob (users), a manager, an editor,
a superuser; a live SMTP sink."""

import pytest
from django.test import Client as HttpClient

from apps.core.smtpsink import SMTPSink
from apps.users import roles
from tests.factories import UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(email="alice@example.com", group=roles.USERS)


@pytest.fixture
def bob(db):
    return UserFactory(email="bob@example.com", group=roles.USERS)


@pytest.fixture
def manager(db):
    return UserFactory(email="manager@example.com", group=roles.MANAGERS)


@pytest.fixture
def editor(db):
    return UserFactory(email="editor@example.com", group=roles.EDITORS)


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@example.com", is_superuser=True)


@pytest.fixture
def everyone(alice, bob, manager, editor, superuser) -> dict:
    """The permission matrix's people by role name (anonymous: Django's)."""
    from django.contrib.auth.models import AnonymousUser

    return {
        "alice": alice,
        "bob": bob,
        "manager": manager,
        "editor": editor,
        "superuser": superuser,
        "anonymous": AnonymousUser(),
    }


@pytest.fixture
def login(db):
    """login(user) -> a test client logged in as that user."""

    def _login(user) -> HttpClient:
        http = HttpClient()
        http.force_login(user, backend="apps.users.backends.EmailBackend")
        return http

    return _login


@pytest.fixture
def smtp_sink(settings, tmp_path):
    """A real SMTP server on a free port, with Django's mail pointed at it."""
    with SMTPSink(directory=tmp_path / "mail") as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = sink.host
        settings.EMAIL_PORT = sink.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        yield sink
