"""Bounces and complaints about Mailshot's own messages, in the shapes real servers
write (RFC 3464 DSN as Postfix writes it, RFC 5965 ARF as the feedback loops do)."""

from __future__ import annotations

from textwrap import dedent


def dsn(
    *,
    to: str,
    recipient: str,
    status: str = "5.1.1",
    action: str = "failed",
    message_id: str = "",
    diagnostic: str = "550 5.1.1 User unknown",
) -> bytes:
    returned = f"Message-ID: {message_id}\n" if message_id else ""
    return dedent(
        f"""\
        Return-Path: <>
        Date: Mon, 30 Nov 2026 10:00:00 +0000 (UTC)
        From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
        Subject: Undelivered Mail Returned to Sender
        To: {to}
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
        \tboundary="B0UNDARY"
        Message-Id: <20261130100000.ABCDEF@mx.example.net>

        --B0UNDARY
        Content-Description: Notification
        Content-Type: text/plain; charset=utf-8

        <{recipient}>: host mx.example.org said: {diagnostic}

        --B0UNDARY
        Content-Description: Delivery report
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.net

        Final-Recipient: rfc822; {recipient}
        Original-Recipient: rfc822;{recipient}
        Action: {action}
        Status: {status}
        Diagnostic-Code: smtp; {diagnostic}

        --B0UNDARY
        Content-Description: Undelivered Message Headers
        Content-Type: text/rfc822-headers

        From: Mailshot <noreply@mailshot.example>
        To: {recipient}
        Subject: Hello
        {returned}
        --B0UNDARY--
        """
    ).encode()


def arf(*, to: str, recipient: str, message_id: str = "") -> bytes:
    returned = f"Message-ID: {message_id}\n" if message_id else ""
    return dedent(
        f"""\
        Date: Mon, 30 Nov 2026 10:00:00 +0000
        Subject: Abuse Report
        To: {to}
        From: feedbackloop@fbl.example.net
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type="feedback-report";
        \tboundary="ARFBOUNDARY"

        --ARFBOUNDARY
        Content-Type: text/plain

        This is an email abuse report.

        --ARFBOUNDARY
        Content-Type: message/feedback-report

        Feedback-Type: abuse
        User-Agent: ExampleFBL/1.0
        Version: 1
        Original-Rcpt-To: {recipient}

        --ARFBOUNDARY
        Content-Type: message/rfc822

        From: Mailshot <noreply@mailshot.example>
        To: {recipient}
        Subject: Hello
        {returned}
        spam?
        --ARFBOUNDARY--
        """
    ).encode()
