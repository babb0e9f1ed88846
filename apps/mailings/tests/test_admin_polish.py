"""Small things a person meets in the admin: labels, hints, internal fields."""

import pytest
from django.utils import timezone

from apps.mailings.models import Attempt
from apps.mailings.services import grant_owner_permissions
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db


def test_the_client_list_says_subscribed_or_unsubscribed_in_words(alice, login):
    ClientFactory(owner=alice, email="in@example.org")
    ClientFactory(owner=alice, email="out@example.org", is_unsubscribed=True)
    page = login(alice).get("/admin/mailings/client/").content.decode()
    assert "Subscribed" in page
    assert "Unsubscribed" in page


def test_mailing_times_name_their_time_zone(alice, login, settings):
    page = login(alice).get("/admin/mailings/mailing/add/").content.decode()
    assert f"Time zone: {settings.TIME_ZONE}" in page


def _attempt(owner):
    attempt = Attempt.objects.create(
        mailing=MailingFactory(owner=owner),
        attempted_at=timezone.now(),
        finished_at=timezone.now(),
        status=Attempt.Status.PARTIAL,
        lease_owner="node-7:worker",
    )
    grant_owner_permissions(owner=owner, objects=attempt)
    return attempt


def test_the_owner_does_not_see_which_worker_held_the_run(alice, login):
    attempt = _attempt(alice)
    page = login(alice).get(f"/admin/mailings/attempt/{attempt.pk}/change/")
    assert page.status_code == 200
    assert "node-7:worker" not in page.content.decode()


def test_a_superuser_sees_the_worker_of_a_run(alice, superuser, login):
    attempt = _attempt(alice)
    page = login(superuser).get(f"/admin/mailings/attempt/{attempt.pk}/change/")
    assert "node-7:worker" in page.content.decode()


def test_attempt_statuses_are_coloured_by_outcome(alice, login):
    _attempt(alice)
    page = login(alice).get("/admin/mailings/attempt/").content.decode()
    assert "Partial" in page
    # Unfold renders a coloured label for the mapped "warning" type.
    assert "bg-orange" in page or "warning" in page


def test_the_delete_button_reads_well_in_russian(alice, login):
    mailing = MailingFactory(owner=alice)
    page = login(alice).get(
        f"/admin/mailings/mailing/{mailing.pk}/change/", HTTP_ACCEPT_LANGUAGE="ru"
    )
    body = page.content.decode()
    assert "Удалить" in body
    assert "Удалить рассылка" not in body
