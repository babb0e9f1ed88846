"""Issue 15, points 1, 2, 4 and 5 in the admin: the owner pauses and resumes, the
pages tell the truth about a mailing's state, "Duplicate", and live progress.

Each complaint of the issue is quoted above the test that reproduces it.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from apps.home.selectors import dashboard_statistics
from apps.mailings import selectors, sending, services
from apps.mailings.models import Attempt, Client, Delivery, Mailing, Message
from apps.mailings.tests.test_admin_permissions import inline_fields
from apps.mailings.tests.test_mailing_form import form_data
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def change_url(mailing) -> str:
    return reverse("admin:mailings_mailing_change", args=[mailing.pk])


def action_url(name: str, mailing) -> str:
    return reverse(f"admin:mailings_mailing_{name}", args=[mailing.pk])


@pytest.fixture
def later(make_mailing):
    """Alice's mailing of 2 clients, starting tomorrow."""
    return make_mailing(2, start_at=timezone.now() + timedelta(days=1))


# --- 1. Pause / resume ---------------------------------------------------------------


def test_the_owner_pauses_from_the_page_after_a_confirmation(alice, login, later):
    http = login(alice)
    page = http.get(change_url(later)).content.decode()
    assert action_url("pause_detail", later) in page
    assert action_url("resume_detail", later) not in page

    asked = http.get(action_url("pause_detail", later))
    assert asked.status_code == 200 and b'name="post" value="yes"' in asked.content
    later.refresh_from_db()
    assert not later.is_paused  # a GET only asks

    http.post(action_url("pause_detail", later), {"post": "yes"})
    later.refresh_from_db()
    assert later.is_paused

    page = http.get(change_url(later)).content.decode()
    assert 'data-mailing-banner="paused"' in page
    assert action_url("resume_detail", later) in page
    assert action_url("pause_detail", later) not in page
    assert action_url("send_now", later) not in page

    http.post(action_url("resume_detail", later), {"post": "yes"})
    later.refresh_from_db()
    assert not later.is_paused


def test_the_owner_pauses_and_resumes_from_the_list(alice, login, later):
    http = login(alice)
    changelist = reverse("admin:mailings_mailing_changelist")
    data = {"action": "pause_mailings", "_selected_action": [later.pk], "index": "0"}
    http.post(changelist, data)
    later.refresh_from_db()
    assert later.is_paused
    assert "Paused" in http.get(changelist).content.decode()

    http.post(changelist, {**data, "action": "resume_mailings"})
    later.refresh_from_db()
    assert not later.is_paused


# "When a manager disables it, the owner still sees "Running" and a next-run date,
# no notice; "Send now" is offered and only then refused."
def test_the_owner_of_a_disabled_mailing_is_told_and_offered_nothing_to_send(
    alice, login, make_mailing
):
    running = make_mailing(
        2,
        periodicity=Mailing.Periodicity.DAILY,
        start_at=timezone.now() + timedelta(hours=1),
    )
    Mailing.objects.filter(pk=running.pk).update(status=Mailing.Status.RUNNING)
    services.mailing_set_enabled(mailing=running, enabled=False)
    http = login(alice)

    page = http.get(change_url(running)).content.decode()
    assert 'data-mailing-banner="disabled"' in page
    assert "Disabled by a manager" in page
    assert action_url("send_now", running) not in page
    assert action_url("enable_detail", running) not in page

    listing = http.get(reverse("admin:mailings_mailing_changelist"))
    row = listing.content.decode()
    assert "Disabled by a manager" in row
    assert ">Running<" not in row
    next_run = running.next_run_at
    assert next_run is not None
    shown = listing.context["cl"].result_list[0]
    assert listing.context["cl"].model_admin.next_run(shown) == "—"

    # Nor can the owner switch it back on by saving a stale form or an action.
    response = http.post(action_url("enable_detail", running), {"post": "yes"})
    assert response.status_code == 403
    running.refresh_from_db()
    assert not running.is_enabled


def test_send_now_on_a_paused_mailing_explains_and_sends_nothing(
    alice, login, later, django_capture_on_commit_callbacks
):
    services.mailing_set_paused(mailing=later, paused=True)
    http = login(alice)
    asked = http.get(action_url("send_now", later)).content.decode()
    assert "paused" in asked and "Yes, send now" not in asked
    with django_capture_on_commit_callbacks(execute=True):
        http.post(action_url("send_now", later))
    assert Attempt.objects.count() == 0


# --- 2. Honest states ----------------------------------------------------------------


# "A mailing whose whole window is already past is accepted, shows "Created", and a
# minute later silently becomes "Finished" with no attempt."
def test_a_window_entirely_in_the_past_is_a_form_error(alice, login):
    message = MessageFactory(owner=alice)
    client = ClientFactory(owner=alice)
    start = timezone.now() - timedelta(days=3)
    data = form_data(message, [client], start=start, end=start + timedelta(days=1))

    response = login(alice).post(reverse("admin:mailings_mailing_add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "already over" in str(errors["end_at"])
    assert Mailing.objects.count() == 0


def test_an_old_mailing_can_still_be_edited_without_touching_its_dates(
    alice, login, make_mailing
):
    old = make_mailing(1)
    past = timezone.now() - timedelta(days=10)
    Mailing.objects.filter(pk=old.pk).update(
        start_at=past, end_at=past + timedelta(days=1), status=Mailing.Status.FINISHED
    )
    old.refresh_from_db()
    data = {
        **form_data(
            old.message, list(old.clients.all()), start=old.start_at, end=old.end_at
        ),
        "periodicity": "weekly",
    }

    http = login(alice)
    response = http.post(
        change_url(old), {**inline_fields(http, change_url(old)), **data}
    )

    assert response.status_code == 302
    old.refresh_from_db()
    assert old.periodicity == "weekly"


# "Right after saving, the page showed "Created" beside a finished run."
@pytest.mark.smtp
def test_the_page_after_saving_reflects_the_run_it_started(
    alice, login, sink, django_capture_on_commit_callbacks
):
    message = MessageFactory(owner=alice)
    clients = [ClientFactory(owner=alice) for _ in range(2)]
    start = timezone.now() - timedelta(minutes=1)
    data = {
        **form_data(message, clients, start=start, end=start + timedelta(days=1)),
        "_continue": "1",
    }
    http = login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        http.post(reverse("admin:mailings_mailing_add"), data)
    mailing = Mailing.objects.get()

    queued = http.get(change_url(mailing))
    assert queued.context["mailing_state"] == "starting"
    assert "Starting" in queued.content.decode()
    assert "data-run-progress=" in queued.content.decode()  # polled until it ends

    for callback in callbacks:
        callback()  # the cluster runs it
    assert len(sink.messages) == 2

    done = http.get(change_url(mailing))
    body = done.content.decode()
    assert done.context["mailing_state"] == "finished"
    assert "Created" not in body and "Starting" not in body
    assert "data-run-progress=" not in body  # nothing more to poll
    assert 'data-progress="sent">2<' in body


# ""Send now" is offered on a finished one-off mailing."
@pytest.mark.smtp
def test_send_now_on_a_finished_one_off_asks_to_send_again(
    alice, login, make_mailing, sink, django_capture_on_commit_callbacks
):
    mailing = make_mailing(3)
    sending.run_due_mailing(mailing.pk)
    first = len(sink.messages)
    http = login(alice)
    mailing.refresh_from_db()
    assert selectors.mailing_state(mailing) == "finished"

    asked = http.get(action_url("send_now", mailing)).content.decode()
    assert "already been sent. Send it again to 3 recipients?" in asked
    assert 'name="again" value="yes"' in asked

    # A POST that did not answer that question (an old form, a script) only asks.
    with django_capture_on_commit_callbacks(execute=True):
        unanswered = http.post(action_url("send_now", mailing))
    assert unanswered.status_code == 200
    assert len(sink.messages) == first and Attempt.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        answered = http.post(action_url("send_now", mailing), {"again": "yes"})
    assert answered.status_code == 302
    assert len(sink.messages) == first + 3 and Attempt.objects.count() == 2


def open_outage(mailing, *, sent: int, pending: int) -> Attempt:
    """A run stopped by an unreachable server: a failure with recipients pending."""
    now = timezone.now()
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=now,
        status=Attempt.Status.FAILURE,
        total_count=sent + pending,
        sent_count=sent,
        server_response="The mail server is unreachable.",
    )
    services.attempt_created(attempt=attempt)
    for n in range(sent + pending):
        client = ClientFactory.create(owner=mailing.owner)
        Delivery.objects.create(
            attempt=attempt,
            client=client,
            email=client.email,
            outcome=Delivery.Outcome.SENT if n < sent else Delivery.Outcome.PENDING,
            processed_at=now if n < sent else None,
        )
    return attempt


# "During an outage the dashboard shows "Failure · 0 sent · 0 failed" next to
# "Success rate 100 %"; pending recipients are shown nowhere."
def test_the_dashboard_counts_pending_recipients_in_the_success_rate(
    alice, bob, login, make_mailing
):
    earlier = make_mailing(0)
    finished = Attempt.objects.create(
        mailing=earlier,
        attempted_at=timezone.now(),
        finished_at=timezone.now(),
        status=Attempt.Status.SUCCESS,
    )
    services.attempt_created(attempt=finished)
    for _ in range(6):
        client = ClientFactory.create(owner=alice)
        Delivery.objects.create(
            attempt=finished,
            client=client,
            email=client.email,
            outcome=Delivery.Outcome.SENT,
            processed_at=timezone.now(),
        )
    outage = open_outage(MailingFactory(owner=alice), sent=0, pending=4)
    open_outage(MailingFactory(owner=bob), sent=0, pending=7)  # not Alice's

    data = dashboard_statistics(user=alice)
    assert (data["deliveries_sent"], data["deliveries_pending"]) == (6, 4)
    assert data["success_rate"] == 60.0

    page = login(alice).get("/admin/")
    assert 'data-kpi="deliveries_pending">4<' in page.content.decode()
    table = page.context["dashboard"]["attempts_table"]
    assert "pending" in [str(h) for h in table["headers"]]
    outage_row = next(r for r in table["rows"] if f"/{outage.pk}/" in str(r[0]))
    assert outage_row[-1] == 4


def test_the_attempt_list_shows_pending_recipients(alice, login, make_mailing):
    outage = open_outage(make_mailing(0), sent=1, pending=3)
    response = login(alice).get(reverse("admin:mailings_attempt_changelist"))
    assert response.status_code == 200
    admin = response.context["cl"].model_admin
    assert "pending" in response.context["cl"].list_display
    assert admin.pending(outage) == 3


# --- 4. Duplicate --------------------------------------------------------------------


def test_duplicating_a_mailing_makes_a_paused_copy_with_its_recipients(
    alice, login, later, django_capture_on_commit_callbacks
):
    http = login(alice)
    assert (
        action_url("duplicate_detail", later)
        in http.get(change_url(later)).content.decode()
    )
    asked = http.get(action_url("duplicate_detail", later))
    assert asked.status_code == 200 and Mailing.objects.count() == 1

    response = http.post(action_url("duplicate_detail", later), {"post": "yes"})

    copy = Mailing.objects.exclude(pk=later.pk).get()
    assert response["Location"] == change_url(copy)
    assert copy.is_paused and copy.owner == alice
    assert copy.message == later.message
    assert set(copy.clients.all()) == set(later.clients.all())
    assert (copy.start_at, copy.end_at, copy.periodicity) == (
        later.start_at,
        later.end_at,
        later.periodicity,
    )
    page = http.get(change_url(copy)).content.decode()
    assert "This is a copy, paused until you save it." in page

    # Saving it (the owner has looked at it) lets it run.
    data = form_data(copy.message, list(copy.clients.all()))
    data.update(inline_fields(http, change_url(copy)))
    with django_capture_on_commit_callbacks(execute=False):
        saved = http.post(change_url(copy), data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    copy.refresh_from_db()
    assert not copy.is_paused
    # The owner's own pause is kept on a later save.
    services.mailing_set_paused(mailing=copy, paused=True)
    with django_capture_on_commit_callbacks(execute=False):
        http.post(change_url(copy), data)
    copy.refresh_from_db()
    assert copy.is_paused


def test_a_copy_with_an_old_window_must_be_given_new_dates(alice, login, make_mailing):
    old = make_mailing(1)
    past = timezone.now() - timedelta(days=10)
    Mailing.objects.filter(pk=old.pk).update(
        start_at=past, end_at=past + timedelta(days=1)
    )
    http = login(alice)
    http.post(action_url("duplicate_detail", old), {"post": "yes"})
    copy = Mailing.objects.exclude(pk=old.pk).get()
    data = form_data(
        copy.message, list(copy.clients.all()), start=copy.start_at, end=copy.end_at
    )

    response = http.post(
        change_url(copy), {**inline_fields(http, change_url(copy)), **data}
    )

    assert response.status_code == 200  # the form, with the error
    assert "already over" in str(response.context["adminform"].form.errors)
    copy.refresh_from_db()
    assert copy.is_paused


def test_duplicating_a_message_names_the_copy(alice, login):
    message = MessageFactory(owner=alice, subject="Spring news", body="Hello")
    url = reverse("admin:mailings_message_duplicate_detail", args=[message.pk])

    response = login(alice).post(url, {"post": "yes"})

    copy = Message.objects.exclude(pk=message.pk).get()
    assert copy.subject == "Spring news (copy)" and copy.body == "Hello"
    assert response["Location"] == reverse(
        "admin:mailings_message_change", args=[copy.pk]
    )
    # The copy is the owner's like any message of theirs.
    assert selectors.visible_messages(alice).filter(pk=copy.pk).exists()


def test_a_long_subject_still_fits_with_its_copy_mark(alice):
    message = MessageFactory(owner=alice, subject="x" * 255)
    copy = services.message_duplicate(message=message)
    assert len(copy.subject) == 255 and copy.subject.endswith(" (copy)")


# --- 5. Live progress ----------------------------------------------------------------


@pytest.mark.smtp
def test_progress_counts_the_ledger_while_a_run_is_open(
    alice, login, make_mailing, sink
):
    mailing = make_mailing(4)
    attempt = sending.start_manual_run(mailing.pk, worker="w")
    Delivery.objects.filter(attempt=attempt, email="r0@example.org").update(
        outcome=Delivery.Outcome.SENT
    )
    Delivery.objects.filter(attempt=attempt, email="r1@example.org").update(
        outcome=Delivery.Outcome.FAILED
    )
    http = login(alice)

    data = json.loads(http.get(action_url("progress", mailing)).content)
    assert data["running"] and data["state"] == "sending"
    assert (data["sent"], data["failed"], data["pending"], data["total"]) == (
        1,
        1,
        2,
        4,
    )
    assert data["percent"] == 50

    page = http.get(change_url(mailing)).content.decode()
    assert f'data-run-progress="{action_url("progress", mailing)}"' in page
    assert "mailings/run-progress.js" in page
    attempt_page = http.get(
        reverse("admin:mailings_attempt_change", args=[attempt.pk])
    ).content.decode()
    attempt_json = reverse("admin:mailings_attempt_progress", args=[attempt.pk])
    assert f'data-run-progress="{attempt_json}"' in attempt_page

    sending.run_attempt(attempt.pk, worker="w")
    data = json.loads(http.get(action_url("progress", mailing)).content)
    assert not data["running"] and data["pending"] == 0
    data = json.loads(http.get(attempt_json).content)
    assert not data["running"]
    assert (
        "run-progress.js"
        not in http.get(
            reverse("admin:mailings_attempt_change", args=[attempt.pk])
        ).content.decode()
    )


def test_the_progress_script_has_no_inline_code_and_stops_when_done():
    from pathlib import Path

    from django.conf import settings

    script = (
        Path(settings.BASE_DIR) / "apps/mailings/static/mailings/run-progress.js"
    ).read_text()
    assert "window.location.reload()" in script
    assert "setTimeout(poll, 2000)" in script
    template = (
        Path(settings.BASE_DIR)
        / "apps/mailings/templates/mailings/admin/run_progress.html"
    ).read_text()
    assert "<script>" not in template and "onclick" not in template


# --- Permission matrix of the new doors ----------------------------------------------

ROLES = ("alice", "bob", "manager", "editor", "superuser", "anonymous")
# Y allowed; N refused and nothing changes (404 for bob: nothing to tell him);
# login for the anonymous visitor.
MATRIX = {
    "pause": "YNNNY",
    "resume": "YNNNY",
    "pause_selected": "YNNNY",
    "duplicate_mailing": "YNNNY",
    "duplicate_message": "YNNNY",
    "mailing_progress": "YNYNY",
    "attempt_progress": "YNYNY",
}


@pytest.fixture
def world(alice, bob, manager, editor, superuser):
    mailing = MailingFactory(
        owner=alice,
        message=MessageFactory(owner=alice, subject="Alice Mailing subject"),
        clients=[ClientFactory(owner=alice, email="secret.client@alice.example")],
    )
    attempt = Attempt.objects.create(mailing=mailing, attempted_at=timezone.now())
    services.attempt_created(attempt=attempt)
    return {
        "mailing": mailing,
        "message": MessageFactory(owner=alice, subject="Alice Secret subject"),
        "attempt": attempt,
        "people": {
            "alice": alice,
            "bob": bob,
            "manager": manager,
            "editor": editor,
            "superuser": superuser,
            "anonymous": None,
        },
    }


def do(operation: str, world, http):
    """Returns (response, allowed)."""
    mailing, message = world["mailing"], world["message"]
    if operation in ("pause", "resume"):
        pause = operation == "pause"
        Mailing.objects.filter(pk=mailing.pk).update(is_paused=not pause)
        response = http.post(
            action_url(f"{operation}_detail", mailing), {"post": "yes"}
        )
        mailing.refresh_from_db()
        return response, mailing.is_paused == pause
    if operation == "pause_selected":
        response = http.post(
            reverse("admin:mailings_mailing_changelist"),
            {
                "action": "pause_mailings",
                "_selected_action": [mailing.pk],
                "index": "0",
            },
        )
        mailing.refresh_from_db()
        return response, mailing.is_paused
    if operation == "duplicate_mailing":
        before = Mailing.objects.count()
        response = http.post(action_url("duplicate_detail", mailing), {"post": "yes"})
        return response, Mailing.objects.count() == before + 1
    if operation == "duplicate_message":
        before = Message.objects.count()
        response = http.post(
            reverse("admin:mailings_message_duplicate_detail", args=[message.pk]),
            {"post": "yes"},
        )
        return response, Message.objects.count() == before + 1
    if operation == "mailing_progress":
        response = http.get(action_url("progress", mailing))
        return response, response.status_code == 200 and b'"state"' in response.content
    if operation == "attempt_progress":
        url = reverse("admin:mailings_attempt_progress", args=[world["attempt"].pk])
        response = http.get(url)
        return response, response.status_code == 200 and b'"sent"' in response.content
    raise AssertionError(operation)


@pytest.mark.parametrize(
    ("operation", "role"),
    [(op, role) for op in MATRIX for role in ROLES],
    ids=lambda v: v,
)
def test_permission_matrix_of_the_owners_controls(operation, role, world, login):
    person = world["people"][role]
    http = login(person) if person else HttpClient()
    clients_before = Client.objects.count()

    response, allowed = do(operation, world, http)

    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
        assert not allowed
        return
    expected = MATRIX[operation][ROLES.index(role)]
    assert allowed == (expected == "Y"), (operation, role, response.status_code)
    if expected == "N":
        assert response.status_code in (403, 404, 302, 200)
        if role == "bob" or operation.endswith("progress"):
            # Someone else's mailing: nothing says it exists.
            assert response.status_code in (404, 302), response.status_code
            assert b"Alice" not in response.content
    assert Client.objects.count() == clients_before  # a copy shares its clients


# --- Cost ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["alice", "manager"])
def test_the_mailing_list_with_states_costs_the_same_for_3_or_30_mailings(
    role, request, alice, login, django_assert_max_num_queries
):
    from cachalot.api import cachalot_disabled
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = login(request.getfixturevalue(role))
    changelist = reverse("admin:mailings_mailing_changelist")

    def make(n: int) -> None:
        for _ in range(n):
            mailing = MailingFactory.create(owner=alice)
            run = Attempt.objects.create(mailing=mailing, attempted_at=timezone.now())
            services.attempt_created(attempt=run)

    def queries() -> int:
        with cachalot_disabled(), CaptureQueriesContext(connection) as captured:
            assert http.get(changelist).status_code == 200
        return len(captured)

    make(3)
    few = queries()
    make(27)
    assert queries() == few
    with django_assert_max_num_queries(few):
        http.get(changelist)
    print(f"\nmailing list ({role}): {few} queries for 3 or 30 mailings")
