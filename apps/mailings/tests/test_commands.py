"""send_mailing and send_due_mailings: exit codes and output."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.core.smtpsink import free_port
from apps.mailings.models import Attempt

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_send_mailing_sends_shows_progress_and_ends_with_a_one_line_summary(
    make_mailing, sink
):
    mailing = make_mailing(3)

    out, err = run("send_mailing", str(mailing.pk))

    assert len(sink.messages) == 3
    assert out.count("\n") == 1
    assert "success" in out and "3 sent" in out
    assert "3/3" in err  # the progress bar went to stderr


def test_send_mailing_of_an_unknown_id_fails_with_one_readable_line():
    with pytest.raises(CommandError, match="There is no mailing #999"):
        run("send_mailing", "999")


def test_send_mailing_with_a_non_numeric_id_fails_readably():
    with pytest.raises(CommandError, match="invalid int value"):
        run("send_mailing", "abc")


def test_send_mailing_exits_non_zero_when_the_server_is_unreachable(
    make_mailing, fast_retries
):
    fast_retries.EMAIL_HOST = "127.0.0.1"
    fast_retries.EMAIL_PORT = free_port()
    mailing = make_mailing(2)

    with pytest.raises(CommandError, match="unreachable") as failure:
        run("send_mailing", str(mailing.pk))

    assert "\n" not in str(failure.value)
    assert Attempt.objects.get().status == Attempt.Status.FAILURE


def test_send_mailing_refuses_a_disabled_mailing(make_mailing, sink):
    mailing = make_mailing(1, is_enabled=False)

    with pytest.raises(CommandError, match="disabled"):
        run("send_mailing", str(mailing.pk))
    assert sink.messages == []


def test_send_mailing_resumes_the_unfinished_run_instead_of_starting_another(
    make_mailing, sink, fast_retries
):
    mailing = make_mailing(2)
    port = fast_retries.EMAIL_PORT
    fast_retries.EMAIL_PORT = free_port()
    with pytest.raises(CommandError):
        run("send_mailing", str(mailing.pk))

    fast_retries.EMAIL_PORT = port
    out, _ = run("send_mailing", str(mailing.pk), "--no-progress")

    assert Attempt.objects.count() == 1
    assert "2 sent" in out
    assert len(sink.messages) == 2


def test_send_due_mailings_is_one_tick_and_safe_to_repeat(make_mailing, sink):
    make_mailing(2)

    first, _ = run("send_due_mailings")
    second, _ = run("send_due_mailings")

    assert first.startswith("Due mailings: 1;")
    assert second.startswith("Due mailings: 0;")
    assert len(sink.messages) == 2
