"""The engine's settings: read through conf.engine(), refused at start-up when they
cannot work (each impossible value names its check id)."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from apps.mailings import conf


def ids() -> set[str | None]:
    return {message.id for message in conf.check_engine_settings()}


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("MAILSHOT_SEND_RATE", -1, "mailings.E002"),
        ("MAILSHOT_LEASE_SECONDS", 4, "mailings.E003"),
        ("MAILSHOT_LEASE_SECONDS", 61, "mailings.E003"),
        ("MAILSHOT_SMTP_RETRIES", -1, "mailings.E004"),
        ("MAILSHOT_SMTP_BACKOFF", -0.5, "mailings.E005"),
        ("MAILSHOT_BATCH_SIZE", 0, "mailings.E006"),
        ("MAILSHOT_SMTP_CONNECTIONS", 0, "mailings.E007"),
        ("MAILSHOT_RUN_HELPERS", -2, "mailings.E008"),
        ("MAILSHOT_NODE_NAME", "n" * 61, "mailings.E009"),
        ("MAILSHOT_MAX_TRIES_PER_RECIPIENT", 0, "mailings.E010"),
        ("EMAIL_TIMEOUT", None, "mailings.E011"),
        ("EMAIL_TIMEOUT", 0, "mailings.E011"),
        ("MAILSHOT_BATCH_SIZE", "many", "mailings.E001"),
    ],
)
def test_an_impossible_engine_setting_is_refused_with_its_own_check(
    settings, name, value, check_id
):
    setattr(settings, name, value)
    assert ids() == {check_id}


@pytest.mark.parametrize(
    ("timeout", "retry", "check_id"),
    [
        (None, 720, "mailings.E020"),
        (600, 600, "mailings.E021"),
        (600, 500, "mailings.E021"),
        (600, None, "mailings.E021"),
        (60, 720, "mailings.E022"),  # the default 60 s lease is not shorter
    ],
)
def test_a_task_timeout_the_engine_cannot_live_with_is_refused(
    settings, timeout, retry, check_id
):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": timeout, "retry": retry}
    assert ids() == {check_id}


def test_replaying_missed_ticks_after_downtime_is_warned_about(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "catch_up": True}
    assert ids() == {"mailings.W001"}


def test_the_shipped_settings_pass_the_checks():
    assert ids() == set()


def test_manage_py_check_stops_on_an_impossible_setting(settings):
    settings.MAILSHOT_SEND_RATE = -5
    with pytest.raises(SystemCheckError, match="MAILSHOT_SEND_RATE is negative"):
        call_command("check")


def test_a_changed_setting_is_read_again(settings):
    assert conf.engine().batch_size == 100
    settings.MAILSHOT_BATCH_SIZE = 7
    assert conf.engine().batch_size == 7


def test_the_engine_defaults_are_those_of_the_settings_module(settings):
    for name, default in conf.DEFAULTS.items():
        if name in os.environ:
            continue  # this machine sets it on purpose
        assert getattr(settings, name) == default, name


def test_every_mailshot_variable_the_settings_read_is_in_the_readme_table():
    root = Path(django_settings.BASE_DIR)
    read = set(
        re.findall(r'"(MAILSHOT_[A-Z_]+)"', (root / "project/settings.py").read_text())
    )
    table = {
        name
        for line in (root / "README.md").read_text().splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`(MAILSHOT_[A-Z_]+)`", line.split("|")[1])
    }
    assert read and read <= table, sorted(read - table)
