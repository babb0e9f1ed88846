"""Admin: "send now" (owner yes, others no), attempts and their deliveries."""

import pytest
from django.utils import timezone

from apps.mailings import sending
from apps.mailings.models import Attempt
from tests.factories import ClientFactory, MailingFactory

pytestmark = pytest.mark.django_db


def send_now_url(mailing):
    return f"/admin/mailings/mailing/{mailing.pk}/send-now/"


@pytest.fixture
def alices_mailing(make_mailing):
    return make_mailing(2, start_at=timezone.now() + timezone.timedelta(days=1))


def test_the_owner_sees_a_send_now_button_on_the_mailing_page(
    alice, login, alices_mailing
):
    response = login(alice).get(f"/admin/mailings/mailing/{alices_mailing.pk}/change/")
    assert response.status_code == 200
    assert send_now_url(alices_mailing).encode() in response.content


def test_the_send_now_link_only_asks_for_confirmation(alice, login, alices_mailing):
    response = login(alice).get(send_now_url(alices_mailing))

    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert b'method="post"' in response.content
    assert Attempt.objects.count() == 0


@pytest.mark.smtp
def test_the_owner_confirming_send_now_queues_the_run(
    alice, login, alices_mailing, sink, django_capture_on_commit_callbacks
):
    http = login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = http.post(send_now_url(alices_mailing))

    assert response.status_code == 302
    assert Attempt.objects.count() == 0  # not inside the request
    for callback in callbacks:
        callback()
    assert Attempt.objects.get().sent_count == 2
    page = http.get(f"/admin/mailings/mailing/{alices_mailing.pk}/change/")
    assert b"/admin/mailings/attempt/" in page.content  # the runs inline


def test_send_now_without_csrf_is_refused(alice, alices_mailing):
    from django.test import Client as HttpClient

    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(alice, backend="apps.users.backends.EmailBackend")
    response = http.post(send_now_url(alices_mailing))
    assert response.status_code == 403
    assert Attempt.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_bob_cannot_send_alices_mailing_nor_learn_it_exists(
    bob, login, alices_mailing, method, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(login(bob), method)(send_now_url(alices_mailing))
    assert response.status_code == 404
    assert Attempt.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_manager_sees_the_mailing_but_cannot_send_it(
    manager, login, alices_mailing, method, django_capture_on_commit_callbacks
):
    http = login(manager)
    page = http.get(f"/admin/mailings/mailing/{alices_mailing.pk}/change/")
    assert page.status_code == 200
    assert send_now_url(alices_mailing).encode() not in page.content

    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(http, method)(send_now_url(alices_mailing))
    assert response.status_code == 403
    assert Attempt.objects.count() == 0


def test_a_disabled_mailing_cannot_be_sent_now(alice, login, alices_mailing):
    alices_mailing.is_enabled = False
    alices_mailing.save()
    http = login(alice)
    assert b"disabled" in http.get(send_now_url(alices_mailing)).content

    http.post(send_now_url(alices_mailing))
    assert Attempt.objects.count() == 0


@pytest.fixture
def two_attempts(alice, bob, make_mailing, sink):
    mine = make_mailing(1)
    bobs = MailingFactory(
        owner=bob,
        start_at=timezone.now() - timezone.timedelta(minutes=1),
        clients=[ClientFactory(owner=bob, email="bobs-reader@example.org")],
    )
    sending.run_mailing_now(mine.pk)
    sending.run_mailing_now(bobs.pk)
    return Attempt.objects.get(mailing=mine), Attempt.objects.get(mailing=bobs)


@pytest.mark.smtp
def test_the_attempts_list_shows_only_your_own_attempts(alice, login, two_attempts):
    mine, bobs = two_attempts
    response = login(alice).get("/admin/mailings/attempt/")

    assert response.status_code == 200
    assert f"/admin/mailings/attempt/{mine.pk}/".encode() in response.content
    assert f"/admin/mailings/attempt/{bobs.pk}/".encode() not in response.content
    assert str(bobs.mailing).encode() not in response.content  # nor in the filter


@pytest.mark.smtp
def test_a_manager_sees_every_attempt(manager, login, two_attempts):
    response = login(manager).get("/admin/mailings/attempt/")
    for attempt in two_attempts:
        assert f"/admin/mailings/attempt/{attempt.pk}/".encode() in response.content


@pytest.mark.smtp
def test_an_attempt_page_lists_its_deliveries_with_the_server_replies(
    alice, login, two_attempts
):
    mine, _ = two_attempts
    response = login(alice).get(f"/admin/mailings/attempt/{mine.pk}/change/")

    assert response.status_code == 200
    assert b"r0@example.org" in response.content
    assert b"250 Message accepted for delivery" in response.content


@pytest.mark.smtp
def test_bob_cannot_open_alices_attempt(bob, login, two_attempts):
    mine, _ = two_attempts
    response = login(bob).get(f"/admin/mailings/attempt/{mine.pk}/change/")
    assert response.status_code in (302, 404)
    assert b"r0@example.org" not in response.content


@pytest.mark.smtp
@pytest.mark.parametrize(
    "query, listed",
    [
        ("status=success", True),
        ("status=failure", False),
        ("status=open", False),
        ("attempted_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00", True),
        ("attempted_at__gte=2999-01-01+00%3A00%3A00%2B00%3A00", False),
    ],
)
def test_the_attempts_list_filters_by_status_and_date(
    alice, login, two_attempts, query, listed
):
    mine, _ = two_attempts
    response = login(alice).get(f"/admin/mailings/attempt/?{query}")
    assert response.status_code == 200
    link = f"/admin/mailings/attempt/{mine.pk}/change/".encode()
    assert (link in response.content) is listed


@pytest.mark.smtp
def test_the_attempts_list_filters_by_mailing(alice, login, two_attempts, make_mailing):
    mine, _ = two_attempts
    other = make_mailing(0)
    sending.run_mailing_now(other.pk)
    response = login(alice).get(f"/admin/mailings/attempt/?mailing={other.pk}")
    assert f"/admin/mailings/attempt/{mine.pk}/".encode() not in response.content
