"""Report pages: the numbers against a hand-built ledger, and who may see them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from apps.audiences.models import Suppression
from apps.deliverability import stats
from apps.deliverability.engagement import Hit, record
from apps.mailings import services
from apps.mailings.models import Attempt, Delivery, Mailing
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 Firefox/140.0"


@pytest.fixture
def ledger(alice):
    """One attempt of alice's mailing: 10 recipients, 8 sent, 1 failed, 1 pending;
    2 hard and 1 soft bounce, 1 complaint, 4 opened (one twice), 2 clicked
    (link 0 twice by one person, link 1 once), 1 unsubscribed after, 1 before."""
    mailing = MailingFactory(owner=alice)
    attempt = Attempt.objects.create(
        mailing=mailing, attempted_at=timezone.now(), links=["https://a", "https://b"]
    )
    services.attempt_created(attempt=attempt)  # the owner's object permissions
    sent_at = timezone.now() - timedelta(hours=3)
    rows = []
    for i in range(10):
        outcome = "sent" if i < 8 else ("failed" if i == 8 else "pending")
        client = ClientFactory.create(owner=alice, email=f"r{i}@example.org")
        rows.append(
            Delivery.objects.create(
                attempt=attempt,
                client=client,
                email=client.email,
                outcome=outcome,
                processed_at=sent_at if outcome != "pending" else None,
            )
        )
    Delivery.objects.filter(pk__in=[rows[0].pk, rows[1].pk]).update(
        bounce_type="hard", bounced_at=timezone.now()
    )
    Delivery.objects.filter(pk=rows[2].pk).update(
        bounce_type="soft", bounced_at=timezone.now()
    )
    Delivery.objects.filter(pk=rows[3].pk).update(complained_at=timezone.now())
    t = sent_at + timedelta(minutes=30)
    record(
        [
            Hit(rows[4].pk, "open", t, BROWSER),
            Hit(rows[4].pk, "open", t + timedelta(minutes=5), BROWSER),
            Hit(rows[5].pk, "open", t, BROWSER),
            Hit(rows[6].pk, "open", t, BROWSER),
            Hit(rows[7].pk, "open", t, BROWSER),
            Hit(rows[4].pk, "click", t, BROWSER, 0, "https://a"),
            Hit(rows[4].pk, "click", t + timedelta(minutes=1), BROWSER, 0, "https://a"),
            Hit(rows[5].pk, "click", t, BROWSER, 1, "https://b"),
            # A scanner, within seconds of delivery: not counted.
            Hit(rows[6].pk, "click", sent_at + timedelta(seconds=2), BROWSER, 0, "a"),
        ]
    )
    Suppression.objects.create(
        owner=alice, email="R6@example.org", reason="unsubscribed"
    )
    early = Suppression.objects.create(
        owner=alice, email="r7@example.org", reason="unsubscribed"
    )
    Suppression.objects.filter(pk=early.pk).update(
        created_at=sent_at - timedelta(days=1)
    )
    return mailing, attempt


def test_the_numbers_match_the_ledger(ledger):
    mailing, attempt = ledger

    report = stats.report(Delivery.objects.filter(attempt=attempt))

    assert (report.recipients, report.sent) == (10, 8)
    assert (report.failed, report.pending) == (1, 1)
    assert (report.hard_bounces, report.soft_bounces, report.complaints) == (2, 1, 1)
    assert (report.unique_opens, report.opens) == (4, 5)
    assert (report.unique_clicks, report.clicks) == (2, 3)
    assert report.unsubscribes == 1
    assert [(link.url, link.unique, link.total) for link in report.links] == [
        ("https://a", 1, 2),
        ("https://b", 1, 1),
    ]
    rates = report.rates()
    assert rates["hard_bounces"] == 2 / 8 and rates["unique_opens"] == 4 / 8
    assert sum(opens for _at, opens, _c in report.timeline) == 5
    assert sum(clicks for _at, _o, clicks in report.timeline) == 3


def test_the_owner_sees_the_report_and_its_csv(ledger, login, alice):
    mailing, attempt = ledger
    client = login(alice)

    page = client.get(f"/admin/reports/mailing/{mailing.pk}/")
    per_attempt = client.get(f"/admin/reports/attempt/{attempt.pk}/")
    export = client.get(f"/admin/reports/mailing/{mailing.pk}/?export=csv")

    assert page.status_code == 200 and per_attempt.status_code == 200
    assert b"https://a" in page.content and b"<svg" in page.content
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert ["Hard bounces", "2", "25.00%"] in rows


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("bob", 404), ("manager", 200), ("editor", 404), (None, 302)],
)
def test_who_may_see_a_report(ledger, login, client, who, status, request):
    mailing, attempt = ledger
    http = login(request.getfixturevalue(who)) if who else client

    urls = (
        f"/admin/reports/mailing/{mailing.pk}/",
        f"/admin/reports/attempt/{attempt.pk}/",
    )
    for url in urls:
        assert http.get(url).status_code == status, (who, url)


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 403), ("manager", 200), ("editor", 403), (None, 302)],
)
def test_the_signals_page_is_for_managers(ledger, login, client, who, status, request):
    http = login(request.getfixturevalue(who)) if who else client

    assert http.get("/admin/reports/signals/").status_code == status


def test_an_owner_over_the_limits_is_listed(ledger, alice, bob):
    mailing, attempt = ledger
    # 100 more sent by alice, 10 of them hard bounces: 12/108 > 5 %.
    rows = [
        Delivery(
            attempt=attempt,
            email=f"x{i}@example.org",
            outcome="sent",
            processed_at=timezone.now(),
            bounce_type="hard" if i < 10 else "",
        )
        for i in range(100)
    ]
    Delivery.objects.bulk_create(rows)

    flagged = stats.owners_over_limits()

    assert [owner.email for owner in flagged] == [alice.email]
    assert flagged[0].hard_bounces == 12


def test_the_dashboard_shows_bounce_and_complaint_rates(ledger, login, alice, manager):
    page = login(alice).get("/admin/").content.decode()

    assert 'data-kpi="hard_bounce_rate">25.0' in page
    assert 'data-kpi="complaint_rate">12.5' in page
    assert "/admin/reports/signals/" not in page
    assert "/admin/reports/signals/" in login(manager).get("/admin/").content.decode()


def test_the_mailing_and_attempt_pages_lead_to_their_reports(ledger, login, alice):
    mailing, attempt = ledger
    client = login(alice)

    to_mailing = client.get(f"/admin/mailings/mailing/{mailing.pk}/report/")
    to_attempt = client.get(f"/admin/mailings/attempt/{attempt.pk}/report/")
    page = client.get(f"/admin/mailings/mailing/{mailing.pk}/change/").content.decode()

    assert to_mailing["Location"] == f"/admin/reports/mailing/{mailing.pk}/"
    assert to_attempt["Location"] == f"/admin/reports/attempt/{attempt.pk}/"
    assert f"/admin/mailings/mailing/{mailing.pk}/report/" in page


FIGURES = "deliverability/admin/_figures.html"


def _figure(html: str, label: str) -> tuple[str, str]:
    """The count and the rate of the figures table's row `label`."""
    row = re.search(
        rf"<td[^>]*>{re.escape(label)}</td>\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)</td>",
        html,
    )
    assert row, label
    return row.group(1), row.group(2)


def test_the_report_and_the_signals_page_show_their_figures_alike(
    ledger, login, manager
):
    mailing, attempt = ledger
    http = login(manager)

    pages = {
        "report": http.get(f"/admin/reports/mailing/{mailing.pk}/"),
        "attempt": http.get(f"/admin/reports/attempt/{attempt.pk}/"),
        "signals": http.get("/admin/reports/signals/"),
    }

    for name, page in pages.items():
        assert FIGURES in [t.name for t in page.templates], name
        html = page.content.decode()
        assert html.count('class="report-figures') == 1, name
        # The site-wide figures count what was handled in the last 30 days.
        recipients = "9" if name == "signals" else "10"
        assert _figure(html, "Recipients") == (recipients, ""), name
        assert _figure(html, "Hard bounces") == ("2", "25.00 %"), name
        assert _figure(html, "Opened (unique)") == ("4", "50.00 %"), name
        assert _figure(html, "Unsubscribed") == ("1", "12.50 %"), name


def _report_buttons(user, mailing, attempt) -> dict[str, bool]:
    """Whether the mailing's and the attempt's pages offer `user` the Report button."""
    shown = {}
    for model, obj in ((Mailing, mailing), (Attempt, attempt)):
        model_admin: Any = admin.site._registry[model]  # Unfold's ModelAdmin
        request = RequestFactory().get("/")
        request.user = user
        names = [
            a.action_name for a in model_admin.get_actions_detail(request, str(obj.pk))
        ]
        shown[model.__name__] = any(name.endswith("_report_detail") for name in names)
    return shown


@pytest.mark.parametrize(
    ("who", "shown"),
    [
        ("alice", True),
        ("manager", True),
        ("superuser", True),
        ("bob", False),
        ("editor", False),
    ],
)
def test_the_report_button_is_offered_to_who_may_see_the_report(
    ledger, who, shown, request
):
    mailing, attempt = ledger

    buttons = _report_buttons(request.getfixturevalue(who), mailing, attempt)

    assert buttons == {"Mailing": shown, "Attempt": shown}


@pytest.mark.parametrize("who", ["alice", "manager"])
def test_the_owner_and_a_manager_see_the_report_buttons(ledger, login, who, request):
    mailing, attempt = ledger
    http = login(request.getfixturevalue(who))

    pages = {
        f"/admin/mailings/mailing/{mailing.pk}/report/": http.get(
            f"/admin/mailings/mailing/{mailing.pk}/change/"
        ),
        f"/admin/mailings/attempt/{attempt.pk}/report/": http.get(
            f"/admin/mailings/attempt/{attempt.pk}/change/"
        ),
    }

    for button, page in pages.items():
        assert page.status_code == 200
        assert button in page.content.decode()


def test_the_report_action_refuses_who_may_not_see_the_report(ledger, login, bob):
    mailing, attempt = ledger
    http = login(bob)

    for model, pk in (("mailing", mailing.pk), ("attempt", attempt.pk)):
        existing = http.get(f"/admin/mailings/{model}/{pk}/report/")
        missing = http.get(f"/admin/mailings/{model}/{pk + 1000}/report/")
        # Refused alike: whether the object exists is not told.
        assert existing.status_code == missing.status_code == 403, model
