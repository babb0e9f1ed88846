"""`manage.py setupsuperuser`: non-interactive, idempotent, one clear line on error."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.users.models import User

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-and-unusual-passphrase-41"


@pytest.fixture(autouse=True)
def no_superuser_environment(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)


def test_it_creates_a_superuser_from_options():
    call_command("setupsuperuser", email="Root@Example.com", password=PASSWORD)

    root = User.objects.get()
    assert root.email == "root@example.com"
    assert root.is_superuser and root.is_staff and root.is_active
    assert root.email_confirmed
    assert root.check_password(PASSWORD)


def test_it_reads_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("setupsuperuser")

    assert User.objects.get(email="ops@example.com").check_password(PASSWORD)


def test_options_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "env@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("setupsuperuser", email="option@example.com")

    assert list(User.objects.values_list("email", flat=True)) == ["option@example.com"]


def test_running_it_again_updates_the_password_and_creates_no_one(alice):
    call_command("setupsuperuser", email="root@example.com", password=PASSWORD)
    call_command(
        "setupsuperuser", email="ROOT@example.com", password=PASSWORD + "-changed"
    )

    root = User.objects.get(email="root@example.com")
    assert root.check_password(PASSWORD + "-changed")
    assert User.objects.filter(is_superuser=True).count() == 1


def test_an_existing_person_is_promoted_and_unblocked(alice):
    User.objects.filter(pk=alice.pk).update(is_blocked=True)

    call_command("setupsuperuser", email=alice.email, password=PASSWORD)

    alice.refresh_from_db()
    assert alice.is_superuser and not alice.is_blocked


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"password": PASSWORD}, "No e-mail"),
        ({"email": "root@example.com"}, "No password"),
        ({"email": "   ", "password": PASSWORD}, "No e-mail"),
        ({"email": "not-an-address", "password": PASSWORD}, "Invalid e-mail"),
        ({"email": "root@example.com", "password": "short"}, "Password refused"),
        ({"email": "root@example.com", "password": "12345678901"}, "Password refused"),
    ],
)
def test_missing_or_invalid_values_are_a_clear_error(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("setupsuperuser", **options)

    assert not User.objects.exists()


def test_a_weak_password_can_be_forced_on_purpose():
    call_command(
        "setupsuperuser",
        email="root@example.com",
        password="short",
        skip_password_validation=True,
    )

    assert User.objects.get().check_password("short")


def test_on_the_command_line_it_exits_non_zero_with_one_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "MAILSHOT_VAR_DIR": str(tmp_path),
        "DJANGO_DEBUG": "1",
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "setupsuperuser"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "CommandError: No e-mail: pass --email or set DJANGO_SUPERUSER_EMAIL."
    ]
