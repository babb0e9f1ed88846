"""Runs are queued in the background on commit, never sent inside a request."""

import pytest
from django.db import transaction
from django.utils import timezone

from apps.mailings import services, tasks
from apps.mailings.models import Attempt, Mailing
from tests.factories import ClientFactory, MessageFactory

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]


def test_creating_a_mailing_inside_its_window_queues_its_run_on_commit(
    alice, sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            mailing = services.mailing_save(
                mailing=Mailing(
                    owner=alice,
                    message=MessageFactory(owner=alice),
                    start_at=timezone.now() - timezone.timedelta(minutes=1),
                    end_at=timezone.now() + timezone.timedelta(days=1),
                )
            )
            mailing.clients.set([ClientFactory(owner=alice) for _ in range(2)])

    assert callbacks, "nothing was queued"
    assert Attempt.objects.count() == 0 and sink.messages == []
    mailing.refresh_from_db()
    assert mailing.next_run_at == mailing.start_at

    for callback in callbacks:
        callback()

    assert Attempt.objects.get().sent_count == 2
    assert len(sink.messages) == 2


def test_saving_a_mailing_in_the_admin_sends_nothing_inside_the_request(
    alice, login, sink, django_capture_on_commit_callbacks
):
    message = MessageFactory(owner=alice)
    client = ClientFactory(owner=alice)
    start = timezone.localtime() - timezone.timedelta(minutes=1)
    end = start + timezone.timedelta(days=1)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = login(alice).post(
            "/admin/mailings/mailing/add/",
            {
                "message": message.pk,
                "clients": [client.pk],
                "start_at_0": start.strftime("%Y-%m-%d"),
                "start_at_1": start.strftime("%H:%M:%S"),
                "end_at_0": end.strftime("%Y-%m-%d"),
                "end_at_1": end.strftime("%H:%M:%S"),
                "periodicity": "once",
                "attempts-TOTAL_FORMS": "0",
                "attempts-INITIAL_FORMS": "0",
            },
        )

    assert response.status_code == 302, response.content[:2000]
    assert Attempt.objects.count() == 0 and sink.messages == []
    for callback in callbacks:
        callback()
    assert [r.envelope_to for r in sink.messages] == [[client.email]]


def test_re_enabling_a_mailing_inside_its_window_queues_its_run(
    make_mailing, sink, django_capture_on_commit_callbacks
):
    mailing = make_mailing(1)
    Mailing.objects.filter(pk=mailing.pk).update(is_enabled=False)
    mailing.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        services.mailing_set_enabled(mailing=mailing, enabled=True)

    assert len(sink.messages) == 1


def test_send_now_queues_the_run_for_after_the_commit(
    make_mailing, sink, django_capture_on_commit_callbacks
):
    mailing = make_mailing(2, start_at=timezone.now() + timezone.timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.mailing_send_now(mailing=mailing)
    assert sink.messages == []
    for callback in callbacks:
        callback()

    assert len(sink.messages) == 2
    mailing.refresh_from_db()
    # A "once" mailing sent by hand has run: it does not run again at its start.
    assert mailing.next_run_at is None
    assert mailing.status == Mailing.Status.FINISHED


def test_the_tick_task_queues_each_due_mailing_as_its_own_task(make_mailing, sink):
    first, second = make_mailing(1), make_mailing(0)

    summary = tasks.send_due_mailings()

    assert "Due mailings: 2;" in summary
    assert set(Attempt.objects.values_list("mailing_id", flat=True)) == {
        first.pk,
        second.pk,
    }


def test_the_run_task_of_an_unknown_mailing_reports_instead_of_raising():
    assert "no mailing #424242" in tasks.run_mailing(424242)
    assert tasks.run_due_mailing(424242) == "not due"


def test_a_run_out_of_time_continues_in_a_follow_up_task(
    make_mailing, sink, settings, monkeypatch
):
    settings.MAILSHOT_BATCH_SIZE = 1
    monkeypatch.setattr(tasks, "_run_budget", lambda: 0)
    mailing = make_mailing(3)

    tasks.run_mailing(mailing.pk)

    attempt = Attempt.objects.get()
    assert attempt.is_finished and attempt.sent_count == 3
    assert len(sink.messages) == 3


def test_the_cluster_share_of_the_send_rate_is_split_between_its_workers(settings):
    settings.MAILSHOT_SEND_RATE = 10
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 4}
    assert tasks._cluster_rate() == 2.5


def test_the_tick_records_the_clusters_heartbeat_for_healthz(superuser, login):
    from django.core.cache import cache

    from apps.core.health import HEARTBEAT_KEY

    cache.delete(HEARTBEAT_KEY)
    tasks.send_due_mailings()
    # The details of /healthz are for operators (superusers or the health token).
    cluster = login(superuser).get("/healthz").json()["checks"]["cluster"]
    assert cluster["last_heartbeat"] is not None
    assert cluster["heartbeat_age_seconds"] < 5
