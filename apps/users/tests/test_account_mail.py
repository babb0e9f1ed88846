"""Account mail goes out from a queued task that retries temporary failures."""

import datetime as dt
import smtplib

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.test import Client

from apps.core.smtpsink import SinkHandler, free_port
from apps.users import tasks
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class FlakyHandler(SinkHandler):
    """Answers with the queued replies first, then accepts like the sink."""

    def __init__(self, replies: list[str]):
        super().__init__()
        self.replies = replies
        self.tries = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.tries += 1
        if self.replies:
            return self.replies.pop(0)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def flaky_server(settings, monkeypatch):
    monkeypatch.setattr(tasks, "RETRY_DELAYS", (0, 0))
    servers = []

    def _start(replies: list[str]) -> FlakyHandler:
        handler = FlakyHandler(replies)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        return handler

    yield _start
    for controller in servers:
        controller.stop()


@pytest.fixture
def pending(db):
    return UserFactory(email="pending@example.com", email_confirmed=False)


def test_a_temporary_refusal_is_retried_until_the_mail_goes_out(pending, flaky_server):
    server = flaky_server(["451 4.3.0 try again later", "421 4.7.0 busy"])

    tasks.send_confirmation_email(pending.pk)

    assert server.tries == 3
    assert [m.envelope_to for m in server.messages] == [["pending@example.com"]]


def test_retries_are_bounded(pending, flaky_server):
    server = flaky_server(["451 4.3.0 later"] * 5)

    with pytest.raises(smtplib.SMTPDataError):
        tasks.send_confirmation_email(pending.pk)

    assert server.tries == 3
    assert server.messages == []


def test_a_permanent_refusal_is_not_retried(pending, flaky_server):
    server = flaky_server(["554 5.7.1 rejected"])

    with pytest.raises(smtplib.SMTPDataError):
        tasks.send_confirmation_email(pending.pk)

    assert server.tries == 1


def test_a_server_that_is_down_is_retried_then_reported(pending, settings, monkeypatch):
    monkeypatch.setattr(tasks, "RETRY_DELAYS", (0, 0))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    sleeps = []
    monkeypatch.setattr(tasks.time, "sleep", sleeps.append)

    with pytest.raises(ConnectionRefusedError):
        tasks.send_confirmation_email(pending.pk)

    assert sleeps == [0, 0]


def test_no_confirmation_mail_goes_to_an_account_confirmed_or_deleted_meanwhile(
    alice, pending, smtp_sink
):
    tasks.send_confirmation_email(alice.pk)
    pending_pk = pending.pk
    pending.delete()
    tasks.send_confirmation_email(pending_pk)

    assert smtp_sink.messages == []


def test_account_mail_has_a_text_and_an_html_part(pending, smtp_sink):
    tasks.send_confirmation_email(pending.pk)

    [received] = smtp_sink.messages
    message = received.message
    assert message.get_body(preferencelist=("plain",)) is not None
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<a href=" in html
    assert message["Auto-Submitted"] == "auto-generated"


def test_one_account_gets_at_most_one_mail_of_a_kind_a_minute(
    pending, post_and_commit, smtp_sink
):
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    resend = "/accounts/confirm/resend/"
    with time_machine.travel(start, tick=False):
        post_and_commit(Client(), resend, {"email": "pending@example.com"})
        post_and_commit(Client(), resend, {"email": "pending@example.com"})
    assert len(smtp_sink.messages) == 1

    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        response = post_and_commit(Client(), resend, {"email": "pending@example.com"})
    assert response.status_code == 302
    assert len(smtp_sink.messages) == 2
