"""The managers' list of people (issue 15, point 7): a role column, a "Blocked" mark
only on the blocked, no staff or superuser columns; "block" on someone already blocked
says so; a blocked person's next request lands on the login page with the reason."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from apps.users import roles
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:users_user_changelist")


def user_url(view: str, pk: int) -> str:
    return reverse(f"admin:users_user_{view}", args=[pk])


def test_the_managers_list_shows_each_persons_role_and_no_staff_columns(
    alice, editor, manager, login
):
    response = login(manager).get(LIST)

    body = response.content.decode()
    assert response.status_code == 200
    assert "column-role" in body
    assert "column-is_staff" not in body and "column-is_superuser" not in body
    roles_shown = {
        person.email: response.context["cl"].model_admin.role(person)
        for person in response.context["cl"].result_list
    }
    assert roles_shown[alice.email] == "Users"
    assert roles_shown[editor.email] == "Content editors"


def test_the_role_is_translated_and_costs_no_query_per_row(
    manager, login, django_assert_max_num_queries
):
    for number in range(30):
        UserFactory(email=f"person.{number}@example.com", group=roles.USERS)
    http = login(manager)
    http.get(LIST)  # warm caches (sessions, content types)

    with django_assert_max_num_queries(12):
        response = http.get(LIST, HTTP_ACCEPT_LANGUAGE="ru")

    body = response.content.decode()
    assert "Пользователи" in body
    assert "Managers" not in body and "Content editors" not in body


def test_blocked_is_marked_only_on_blocked_people(alice, bob, manager, login):
    http = login(manager)
    http.post(user_url("block_detail", bob.pk), {"post": "yes"})

    response = http.get(LIST)

    admin = response.context["cl"].model_admin
    assert admin.blocked_badge(alice) == ""
    bob.refresh_from_db()
    assert "Blocked" in admin.blocked_badge(bob)
    assert response.content.decode().count(">Blocked<") <= 1


def test_a_superuser_still_filters_by_staff_and_superuser(superuser, manager, login):
    manager_filters = login(manager).get(LIST).context["cl"].list_filter
    root_filters = login(superuser).get(LIST).context["cl"].list_filter

    assert "is_staff" not in manager_filters and "is_superuser" not in manager_filters
    assert "is_superuser" in root_filters


def test_block_on_someone_already_blocked_says_so_instead_of_403(bob, manager, login):
    http = login(manager)
    http.post(user_url("block_detail", bob.pk), {"post": "yes"})

    response = http.get(user_url("block_detail", bob.pk), follow=True)

    assert response.status_code == 200
    assert "bob@example.com is already blocked." in response.content.decode()
    change = http.get(user_url("change", bob.pk)).content.decode()
    assert user_url("block_detail", bob.pk) not in change


def test_unblock_on_someone_not_blocked_says_so(bob, manager, login):
    response = login(manager).get(user_url("unblock_detail", bob.pk), follow=True)

    assert response.status_code == 200
    assert "bob@example.com is not blocked." in response.content.decode()


def test_block_stays_forbidden_on_whom_the_manager_may_not_block(
    editor, manager, login
):
    assert login(manager).get(user_url("block_detail", editor.pk)).status_code == 403


def test_a_blocked_persons_next_request_lands_on_login_with_the_reason(
    alice, manager, login
):
    browser = HttpClient()
    browser.post(
        reverse("admin:login"), {"username": alice.email, "password": PASSWORD}
    )
    assert browser.get("/admin/").status_code == 200

    login(manager).post(user_url("block_detail", alice.pk), {"post": "yes"})

    response = browser.get("/admin/mailings/mailing/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("admin:login"))
    assert "a manager has blocked your account" in response.content.decode()
    # Told once: the next visit is a plain login page.
    again = browser.get(reverse("admin:login")).content.decode()
    assert "a manager has blocked your account" not in again
