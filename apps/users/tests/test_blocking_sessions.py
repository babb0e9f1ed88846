import pytest
from django.test import Client

from apps.users.models import UserSession as Session
from apps.users.services import user_block, user_unblock
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def log_in(client: Client, email: str):
    return client.post("/admin/login/", {"username": email, "password": PASSWORD})


def test_a_blocked_persons_live_session_is_cut_off_on_the_next_request(alice, manager):
    browser = Client()
    assert log_in(browser, "alice@example.com").status_code == 302
    assert browser.get("/admin/").status_code == 200

    user_block(user=alice, actor=manager)

    response = browser.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not browser.get("/admin/login/").wsgi_request.user.is_authenticated


def test_a_blocked_person_trying_to_log_in_again_is_told_they_are_blocked(
    alice, manager
):
    user_block(user=alice, actor=manager)

    response = log_in(Client(), "alice@example.com")

    assert response.status_code == 200
    assert "This account has been blocked" in response.content.decode()


def test_an_unblocked_person_can_log_in_again(alice, manager):
    user_block(user=alice, actor=manager)
    user_unblock(user=alice, actor=manager)

    browser = Client()
    assert log_in(browser, "alice@example.com").status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_blocking_one_person_leaves_other_sessions_alone(alice, bob, manager):
    bobs_browser = Client()
    log_in(bobs_browser, "bob@example.com")

    user_block(user=alice, actor=manager)

    assert bobs_browser.get("/admin/").status_code == 200


def test_blocking_deletes_the_persons_sessions_so_unblocking_does_not_revive_them(
    alice, bob, manager
):
    alices_browsers = [Client(), Client()]
    for browser in alices_browsers:
        assert log_in(browser, "alice@example.com").status_code == 302
    bobs_browser = Client()
    log_in(bobs_browser, "bob@example.com")
    sessions_before = Session.objects.count()

    user_block(user=alice, actor=manager)
    user_unblock(user=alice, actor=manager)

    assert Session.objects.count() == sessions_before - 2
    assert not Session.objects.filter(user_id=alice.pk).exists()
    for browser in alices_browsers:
        response = browser.get("/admin/")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert bobs_browser.get("/admin/").status_code == 200
