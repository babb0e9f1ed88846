import datetime as dt

import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.test import Client

from apps.users import roles
from apps.users.emails import uidb64
from apps.users.models import User
from apps.users.tests.conftest import STRONG_PASSWORD, link_to, path_of
from apps.users.tokens import confirmation_token_generator
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(db):
    return UserFactory(
        email="pending@example.com", email_confirmed=False, is_staff=False
    )


def confirm_path(user, token=None) -> str:
    token = token or confirmation_token_generator.make_token(user)
    return f"/accounts/confirm/{uidb64(user)}/{token}/"


def confirm(path: str, password: str = PASSWORD, browser: Client | None = None):
    """Press the confirmation button having typed the registered password."""
    return (browser or Client()).post(path, {"password": password})


def test_register_then_the_mailed_link_then_confirm_lands_in_the_admin(
    register, smtp_sink
):
    register("dana@example.com")
    [received] = smtp_sink.messages
    path = path_of(link_to(received, "/accounts/confirm/"))
    browser = Client()

    page = browser.get(path)
    assert page.status_code == 200
    assert "Confirm my e-mail address" in page.content.decode()
    assert 'method="post"' in page.content.decode()
    assert 'name="password"' in page.content.decode()

    response = browser.post(path, {"password": STRONG_PASSWORD}, follow=True)

    assert response.redirect_chain == [("/admin/", 302)]
    assert response.status_code == 200
    user = User.objects.get(email="dana@example.com")
    assert user.email_confirmed and user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == [roles.USERS]
    assert response.wsgi_request.user == user


def test_opening_the_link_with_get_confirms_nothing(pending):
    """Mail scanners follow links; only the button's POST may use the link up."""
    response = Client().get(confirm_path(pending))

    assert response.status_code == 200
    pending.refresh_from_db()
    assert not pending.email_confirmed


def test_a_used_link_is_refused_without_a_500(pending):
    path = confirm_path(pending)
    assert confirm(path).status_code == 302

    for method in ("get", "post"):
        response = getattr(Client(), method)(path)
        assert response.status_code == 400
        assert "no longer works" in response.content.decode()


def test_the_link_works_until_the_configured_age_and_not_after(pending, settings):
    settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS = 3
    late = UserFactory(email="late@example.com", email_confirmed=False)
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    # Time only moves forward here: cachalot invalidates by timestamp.
    with time_machine.travel(start, tick=False):
        in_time, too_late = confirm_path(pending), confirm_path(late)

    with time_machine.travel(start + dt.timedelta(days=2, hours=23), tick=False):
        assert confirm(in_time).status_code == 302

    with time_machine.travel(start + dt.timedelta(days=3, minutes=1), tick=False):
        assert Client().get(too_late).status_code == 400
        assert confirm(too_late).status_code == 400

    assert User.objects.get(pk=pending.pk).email_confirmed
    assert not User.objects.get(pk=late.pk).email_confirmed


def test_the_link_lifetime_follows_the_setting(pending, settings):
    settings.MAILSHOT_CONFIRMATION_MAX_AGE_DAYS = 1
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        path = confirm_path(pending)

    with time_machine.travel(start + dt.timedelta(days=1, minutes=1), tick=False):
        assert Client().post(path).status_code == 400


def test_a_tampered_link_is_refused(pending):
    token = confirmation_token_generator.make_token(pending)
    tampered = token[:-1] + ("a" if token[-1] != "a" else "b")

    for path in (
        confirm_path(pending, tampered),
        confirm_path(pending, "garbage"),
        confirm_path(pending, "zz-zz"),
        f"/accounts/confirm/!!notbase64/{token}/",
        f"/accounts/confirm/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5/{token}/",
    ):
        assert Client().post(path).status_code == 400, path
    pending.refresh_from_db()
    assert not pending.email_confirmed


def test_a_link_for_a_deleted_account_is_refused(pending):
    path = confirm_path(pending)
    pending.delete()

    assert Client().get(path).status_code == 400
    assert Client().post(path).status_code == 400


def test_a_password_reset_token_does_not_confirm_an_address(pending):
    reset_token = default_token_generator.make_token(pending)

    assert Client().post(confirm_path(pending, reset_token)).status_code == 400


def test_a_confirmation_token_does_not_reset_a_password(pending):
    token = confirmation_token_generator.make_token(pending)

    assert not default_token_generator.check_token(pending, token)


def test_confirming_a_blocked_account_does_not_log_it_in(pending):
    User.objects.filter(pk=pending.pk).update(is_blocked=True)
    pending.refresh_from_db()

    response = Client().post(confirm_path(pending), {"password": PASSWORD}, follow=True)

    assert response.redirect_chain == [("/admin/login/", 302)]
    assert "blocked" in response.content.decode()
    assert not response.wsgi_request.user.is_authenticated


def test_the_resend_page_mails_a_new_link_to_an_unconfirmed_address(
    pending, post_and_commit, smtp_sink
):
    response = post_and_commit(
        Client(), "/accounts/confirm/resend/", {"email": "PENDING@example.com"}
    )

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm/resend/done/"
    [received] = smtp_sink.messages
    assert received.envelope_to == ["pending@example.com"]
    path = path_of(link_to(received, "/accounts/confirm/"))
    assert confirm(path).status_code == 302


def test_the_resend_page_answers_the_same_and_sends_nothing_for_other_addresses(
    pending, alice, post_and_commit, smtp_sink
):
    answers = [
        post_and_commit(Client(), "/accounts/confirm/resend/", {"email": email})
        for email in ("pending@example.com", "alice@example.com", "nobody@example.com")
    ]

    assert {(a.status_code, a["Location"]) for a in answers} == {
        (302, "/accounts/confirm/resend/done/")
    }
    assert [m.envelope_to for m in smtp_sink.messages] == [["pending@example.com"]]


def test_the_resend_page_explains_a_malformed_address():
    response = Client().post("/accounts/confirm/resend/", {"email": "nope"})

    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
