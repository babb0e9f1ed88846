"""Real-world bounces and complaints (tests/corpus, see its README) read right."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from apps.deliverability import reports, webhooks

CORPUS = Path(__file__).parent / "corpus"

# file -> (kind, [(address, status, hard/soft)], complainants, a returned Message-ID)
EXPECTED = {
    "postfix-outlook-541.eml": (
        "bounce",
        [("kijitora@example.br", "5.4.1", "hard")],
        (),
        None,
    ),
    "sendmail-user-unknown.eml": (
        "bounce",
        [("userunknown@bouncehammer.jp", "5.1.1", "hard")],
        (),
        "<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>",
    ),
    "exchange2007-too-large.eml": (
        "bounce",
        [("john.smith@eu.a.b.c", "5.2.3", "soft")],
        (),
        "<20100629141825.BC9AC16586D3@server4.example.co.uk>",
    ),
    "exim-user-unknown.eml": (
        "bounce",
        [
            ("kijitora@example.jp", "5.1.1", "hard"),
            ("sabatora@example.jp", "5.2.1", "hard"),
        ],
        (),
        None,
    ),
    "gmail-permanent.eml": (
        "bounce",
        [("aougoueioaldljgoiuiorghladkgke@example.fr", "5.1.1", "hard")],
        (),
        None,
    ),
    "qmail-unknown-user.eml": (
        "bounce",
        [("kijitora@example.ne.jp", "5.5.0", "hard")],
        (),
        None,
    ),
    "arf-terra.eml": (
        "complaint",
        [],
        (),
        "<f6fbba8a761ce682e1b00a323a21b372@example.net>",
    ),
    "arf-bluetie.eml": (
        "complaint",
        [],
        (
            "db0555c94208f7bc605b02cf12c0535a@hotmail.com",
            "d26177554864b21eb92fbced1e696da7@gmail.com",
            "6b54b77d9b4cd5b40b86311fcb74ee5b@yahoo.com",
        ),
        "<b29c41a473f2$cf33f360$db78e61a$@example.net>",
    ),
}


def test_the_corpus_is_all_here():
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_real_report_is_read(name):
    kind, failures, complainants, message_id = EXPECTED[name]

    report = reports.parse((CORPUS / name).read_bytes())

    assert report.kind == kind
    assert [(f.email, f.status, f.bounce_type) for f in report.failures] == failures
    assert report.complainants == complainants
    if message_id:
        assert message_id in report.message_ids


@pytest.mark.parametrize(
    ("status", "permanent", "expected"),
    [
        ("5.1.1", True, "hard"),  # no such user
        ("5.1.10", True, "hard"),  # null MX
        ("5.4.1", True, "hard"),  # recipient rejected (Office 365)
        ("5.2.1", True, "hard"),  # mailbox disabled
        ("5.2.2", True, "soft"),  # mailbox full
        ("5.2.3", True, "soft"),  # message too large
        ("5.3.4", True, "soft"),  # message too large
        ("5.7.1", True, "soft"),  # refused by policy / as spam
        ("4.2.2", False, "soft"),
        ("4.4.1", False, "soft"),
        ("", True, "hard"),
        ("", False, "soft"),
        ("garbage", True, "hard"),
    ],
)
def test_classification(status, permanent, expected):
    assert reports.classify(status, permanent=permanent) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b"Subject: hello\r\n\r\nJust a reply, not a bounce.\r\n",
        b"Content-Type: multipart/report; report-type=delivery-status; "
        b"boundary=x\r\n\r\n--x\r\n",
        b"Content-Type: message/delivery-status\r\n\r\nAction: failed\r\n",
    ],
)
def test_malformed_messages_are_other_never_an_error(raw):
    report = reports.parse(raw)

    assert report.kind in {"other", "bounce"}
    assert len(report.fingerprint) == 64


def test_a_delayed_dsn_is_not_a_bounce():
    from apps.deliverability.tests.builders import dsn

    report = reports.parse(
        dsn(
            to="x@example.com",
            recipient="a@example.org",
            status="4.4.7",
            action="delayed",
        )
    )

    assert report.failures == ()


def test_the_webhooks_read_ids_and_statuses_with_these_patterns():
    theirs = [v for v in vars(webhooks).values() if isinstance(v, re.Pattern)]
    ours = list(vars(reports).values())
    assert theirs and all(any(p is o for o in ours) for p in theirs)


def test_our_message_ids_are_found_in_brackets_in_a_report_anywhere_in_json():
    mid = "<mailshot.3.7.0123456789abcdef@mail.example>"
    bare = mid.strip("<>")

    in_text = reports.OUR_MESSAGE_ID.findall(f"Quoted: {mid}; bare: {bare}.")
    in_json = reports.OUR_MESSAGE_ID_ANYWHERE.findall(
        json.dumps({"headers": mid, "message-id": bare})
    )

    assert in_text == [mid]
    assert in_json == [mid, bare]
    assert reports.STATUS.search("smtp; 550 5.1.1 unknown").group(0) == "5.1.1"
