"""Registrations nobody confirmed are deleted a day after their last link expired, so
the user table does not keep every address someone typed into the form."""

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django_q.models import Schedule

from apps.users import tasks
from apps.users.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def pending(email: str) -> User:
    return UserFactory.create(email=email, email_confirmed=False, is_staff=False)


def emails() -> set[str]:
    return set(User.objects.values_list("email", flat=True))


def test_unconfirmed_registrations_go_a_day_after_their_link_expired(
    settings, alice, superuser
):
    settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS = 3
    with time_machine.travel(START, tick=False):
        pending("old@example.com")
        UserFactory(email="vouched@example.com", email_confirmed=False, is_staff=True)
    with time_machine.travel(START + dt.timedelta(days=2), tick=False):
        pending("recent@example.com")

    with time_machine.travel(START + dt.timedelta(days=4, minutes=1), tick=False):
        deleted = tasks.purge_unconfirmed_accounts()

    assert deleted == 1
    assert emails() == {
        "alice@example.com",
        "root@example.com",
        "vouched@example.com",
        "recent@example.com",
    }


def test_a_new_link_or_a_new_registration_keeps_the_pending_account(
    settings, register, post_and_commit
):
    settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS = 3
    with time_machine.travel(START, tick=False):
        pending("resent@example.com")
        pending("again@example.com")
    with time_machine.travel(START + dt.timedelta(days=2), tick=False):
        post_and_commit(
            Client(), "/accounts/confirm/resend/", {"email": "resent@example.com"}
        )
        register("again@example.com")

    with time_machine.travel(START + dt.timedelta(days=4, minutes=1), tick=False):
        tasks.purge_unconfirmed_accounts()
        assert emails() == {"resent@example.com", "again@example.com"}
    with time_machine.travel(START + dt.timedelta(days=6, minutes=1), tick=False):
        tasks.purge_unconfirmed_accounts()
        assert emails() == set()


def test_the_cluster_purges_once_a_day():
    schedule = Schedule.objects.get(name="users-purge-unconfirmed")

    assert schedule.func == "apps.users.tasks.purge_unconfirmed_accounts"
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.repeats == -1


def test_the_cluster_clears_expired_sessions_once_a_day():
    from apps.users.models import UserSession

    schedule = Schedule.objects.get(name="users-clear-sessions")
    assert schedule.func == "apps.users.tasks.clear_expired_sessions"
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.repeats == -1

    user = UserFactory()
    with time_machine.travel(START, tick=False):
        http = Client()
        http.force_login(user, backend="apps.users.backends.EmailBackend")
    live = Client()
    live.force_login(user, backend="apps.users.backends.EmailBackend")
    assert UserSession.objects.count() == 2

    tasks.clear_expired_sessions()

    assert list(UserSession.objects.values_list("session_key", flat=True)) == [
        live.session.session_key
    ]
