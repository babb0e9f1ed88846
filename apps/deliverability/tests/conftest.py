from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.deliverability.tests.imapserver import Dovecot, available


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not available():
        pytest.skip(
            "Dovecot is not installed (apt-get install dovecot-imapd; .ci/run does)"
        )
    server = Dovecot().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bounce_box(dovecot, settings):
    """A fresh bounce mailbox, with Mailshot's settings pointed at it."""
    user, password = dovecot.new_user()
    settings.MAILSHOT_BOUNCE_ADDRESS = "bounces@mailshot.example"
    settings.MAILSHOT_BOUNCE_IMAP_URL = dovecot.url(user, password)
    return dovecot, user, password
