"""What keeps a run's bookkeeping cheap, without letting anyone read a stale ledger."""

import smtplib

import pytest
from cachalot import monkey_patch

from apps.mailings import sending
from apps.mailings.models import Delivery
from apps.mailings.sending import transport

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.smtp]


def test_a_new_run_lists_every_client_once_pending_in_client_order(make_mailing):
    mailing = make_mailing(6)

    attempt = sending.start_manual_run(mailing.pk, worker="w")

    rows = list(
        Delivery.objects.filter(attempt=attempt).values_list(
            "client_id", "email", "outcome", "tries", "claimed_by", "server_response"
        )
    )
    clients = list(mailing.clients.order_by("pk").values_list("pk", "email"))
    assert [(client, email) for client, email, *_ in rows] == clients
    assert {tuple(rest) for _, _, *rest in rows} == {("pending", 0, "", "")}
    assert attempt.total_count == 6


def test_claims_and_outcome_writes_are_not_parsed_by_cachalot(
    sink, make_mailing, monkeypatch
):
    """cachalot parses each raw write for tables to invalidate (listing every model),
    which cost a quarter of the coordinating thread; the ledger is uncachable, so
    the engine's statements on it skip that parse."""
    parsed: list[str] = []
    parse = monkey_patch._get_tables_from_sql

    def spy(connection, sql, *args, **kwargs):
        parsed.append(sql)
        return parse(connection, sql, *args, **kwargs)

    monkeypatch.setattr(monkey_patch, "_get_tables_from_sql", spy)
    mailing = make_mailing(5)

    result = sending.run_mailing_now(mailing.pk)

    assert result.sent == 5
    assert not [s for s in parsed if "update" in s and "mailings_delivery" in s]


def test_the_ledger_read_after_a_run_is_never_stale(sink, make_mailing):
    mailing = make_mailing(4)
    sent = Delivery.objects.filter(attempt__mailing=mailing, outcome="sent")
    assert sent.count() == 0  # a read cachalot would keep, were the ledger cachable

    sending.run_mailing_now(mailing.pk)

    assert sent.count() == 4


class _RecordingSMTP(smtplib.SMTP):
    """Records the commands instead of sending them; every reply is 250."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def putcmd(self, cmd: str, args: str = "") -> None:
        self.sent.append(f"{cmd} {args}")

    def getreply(self) -> tuple[int, bytes]:
        return 250, b"OK"


@pytest.mark.parametrize(
    "address",
    ["r1@example.org", "o'neil+news@xn--bcher-kva.example", '"a b"@example.org'],
)
def test_envelope_commands_match_what_smtplib_sends(address):
    ours, theirs = _RecordingSMTP(), _RecordingSMTP()

    transport._command(ours, "mail", "FROM:", address)
    transport._command(ours, "rcpt", "TO:", address)
    theirs.mail(address)
    theirs.rcpt(address)

    assert ours.sent == theirs.sent
