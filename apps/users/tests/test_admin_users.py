"""The people admin: who may list, view, add, change, delete, block and unblock whom,
through the admin's real URLs; the e-mail-only user forms."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.urls import reverse

from apps.users import roles
from apps.users.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("alice", "bob", "manager", "editor", "superuser", "anonymous")
# Per role in ROLES order, the anonymous visitor left out (always sent to the login
# page): Y allowed, N denied and nothing changes. The target is Carol, a plain user.
MATRIX = {
    "list": "NNYNY",
    "search": "NNYNY",
    "view": "NNYNY",
    "history": "NNYNY",
    "add_form": "NNNNY",
    "add": "NNNNY",
    "change": "NNNNY",
    "password_form": "NNNNY",
    "delete_form": "NNNNY",
    "delete": "NNNNY",
    "delete_selected": "NNNNY",
    "block_question": "NNYNY",
    "block_selected": "NNYNY",
    "unblock_selected": "NNYNY",
    "block_page": "NNYNY",
    "block": "NNYNY",
    "unblock": "NNYNY",
}
STRONG_PASSWORD = "a-Long-and-unusual-passphrase-41"


def user_url(view: str, *args) -> str:
    return reverse(f"admin:users_user_{view}", args=args)


@pytest.fixture
def people(everyone):
    carol = UserFactory(
        email="carol@example.com", first_name="Carol", group=roles.USERS
    )
    # Anonymous here: no login at all.
    return {**everyone, "anonymous": None, "carol": carol}


def blocked(user) -> bool:
    user.refresh_from_db()
    return user.is_blocked


def run(op: str, http, carol):
    """Do `op` on Carol; return (response, allowed)."""
    if op in ("list", "search"):
        response = http.get(
            user_url("changelist"), {"q": "carol"} if op == "search" else {}
        )
        allowed = response.status_code == 200
        if allowed:
            assert user_url("change", carol.pk) in response.content.decode()
        return response, allowed
    if op == "password_form":
        response = http.get(reverse("admin:auth_user_password_change", args=[carol.pk]))
        return response, response.status_code == 200
    if op in ("view", "history", "delete_form"):
        view = {"view": "change", "delete_form": "delete"}.get(op, op)
        response = http.get(user_url(view, carol.pk))
        return response, response.status_code == 200
    if op == "add_form":
        response = http.get(user_url("add"))
        return response, response.status_code == 200
    if op == "add":
        response = http.post(
            user_url("add"),
            {
                "email": "New.Person@Example.com",
                "usable_password": "true",
                "password1": STRONG_PASSWORD,
                "password2": STRONG_PASSWORD,
                "groups": [Group.objects.get(name=roles.USERS).pk],
            },
        )
        return response, User.objects.filter(email="new.person@example.com").exists()
    if op == "change":
        response = http.post(
            user_url("change", carol.pk),
            {
                "email": carol.email,
                "first_name": "Changed",
                "last_name": "",
                "email_confirmed": "on",
                "is_active": "on",
                "is_staff": "on",
                "groups": [Group.objects.get(name=roles.USERS).pk],
            },
        )
        carol.refresh_from_db()
        return response, carol.first_name == "Changed"
    if op == "delete":
        response = http.post(user_url("delete", carol.pk), {"post": "yes"})
        return response, not User.objects.filter(pk=carol.pk).exists()
    if op == "delete_selected":
        response = http.post(
            user_url("changelist"),
            {
                "action": "delete_selected",
                "_selected_action": [carol.pk],
                "post": "yes",
            },
        )
        return response, not User.objects.filter(pk=carol.pk).exists()
    if op == "block_question":
        # The changelist's action form only leads to a confirmation page.
        response = http.post(
            user_url("changelist"),
            {"action": "block_users", "_selected_action": [carol.pk], "index": "0"},
        )
        assert not blocked(carol)
        allowed = response.status_code == 200 and b'value="yes"' in response.content
        if allowed:
            assert carol.email in response.content.decode()
        return response, allowed
    if op in ("block_selected", "unblock_selected"):
        block = op == "block_selected"
        User.objects.filter(pk=carol.pk).update(is_blocked=not block)
        response = http.post(
            user_url("changelist"),
            {
                "action": "block_users" if block else "unblock_users",
                "_selected_action": [carol.pk],
                "post": "yes",
            },
        )
        return response, blocked(carol) == block
    if op == "block_page":
        response = http.get(user_url("block_detail", carol.pk))
        assert not blocked(carol)
        allowed = response.status_code == 200
        if allowed:
            assert b"csrfmiddlewaretoken" in response.content
        return response, allowed
    if op in ("block", "unblock"):
        block = op == "block"
        User.objects.filter(pk=carol.pk).update(is_blocked=not block)
        name = "block_detail" if block else "unblock_detail"
        response = http.post(user_url(name, carol.pk), {"post": "yes"})
        return response, blocked(carol) == block
    raise AssertionError(f"unknown operation {op}")  # a typo in MATRIX


CASES = [
    pytest.param(op, role, expected, id=f"{role}-{op}")
    for op, outcomes in MATRIX.items()
    for role, expected in zip(ROLES, [*outcomes, "login"], strict=True)
]


@pytest.mark.parametrize(("op", "role", "expected"), CASES)
def test_user_admin_permission_matrix(people, login, op, role, expected):
    actor = people[role]
    carol = people["carol"]
    http = login(actor) if actor else HttpClient()
    users_before = User.objects.count()

    response, allowed = run(op, http, carol)

    if expected == "Y":
        assert allowed, f"{role} could not {op}: {response.status_code}"
        return
    assert not allowed, f"{role} could {op}"
    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    elif op in ("block_selected", "unblock_selected", "delete_selected"):
        assert response.status_code in (200, 302, 403)
    else:
        assert response.status_code == 403
    assert User.objects.count() == users_before
    carol.refresh_from_db()
    assert carol.first_name == "Carol"


# --- Who may be blocked ---


@pytest.mark.parametrize("target", ["superuser", "other_manager", "self"])
def test_a_manager_cannot_block_a_superuser_another_manager_or_themselves(
    people, login, target
):
    manager = people["manager"]
    victim = {
        "superuser": people["superuser"],
        "other_manager": UserFactory(email="m2@example.com", group=roles.MANAGERS),
        "self": manager,
    }[target]
    http = login(manager)

    page = http.get(user_url("change", victim.pk))
    detail = http.post(user_url("block_detail", victim.pk), {"post": "yes"})
    bulk = http.post(
        user_url("changelist"),
        {"action": "block_users", "_selected_action": [victim.pk], "post": "yes"},
    )

    assert page.status_code == 200
    assert user_url("block_detail", victim.pk) not in page.content.decode()
    assert detail.status_code == 403
    assert bulk.status_code == 302
    assert not blocked(victim)


def test_the_bulk_confirmation_names_who_is_left_alone_and_blocks_only_the_rest(
    people, login
):
    manager, carol, superuser = people["manager"], people["carol"], people["superuser"]
    http = login(manager)
    selection = [carol.pk, superuser.pk, manager.pk]

    question = http.post(
        user_url("changelist"),
        {"action": "block_users", "_selected_action": selection, "index": "0"},
    )
    skipped = [str(p) for p in question.context["skipped"]]
    answer = http.post(
        user_url("changelist"),
        {"action": "block_users", "_selected_action": selection, "post": "yes"},
    )

    assert question.status_code == 200
    assert [str(p) for p in question.context["objects"]] == [carol.email]
    assert sorted(skipped) == sorted([superuser.email, manager.email])
    assert answer.status_code == 302
    assert blocked(carol)
    assert not blocked(superuser)
    assert not blocked(manager)


def test_the_block_button_appears_for_a_plain_user_and_unblock_once_blocked(
    people, login
):
    carol = people["carol"]
    http = login(people["manager"])

    before = http.get(user_url("change", carol.pk)).content.decode()
    http.post(user_url("block_detail", carol.pk), {"post": "yes"})
    after = http.get(user_url("change", carol.pk)).content.decode()

    assert user_url("block_detail", carol.pk) in before
    assert user_url("unblock_detail", carol.pk) not in before
    assert user_url("unblock_detail", carol.pk) in after
    assert user_url("block_detail", carol.pk) not in after


def test_a_blocked_persons_session_stops_working(people, login):
    carol = people["carol"]
    carols_session = login(carol)
    assert carols_session.get("/admin/").status_code == 200

    login(people["manager"]).post(user_url("block_detail", carol.pk), {"post": "yes"})

    response = carols_session.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- The forms without a username ---


def test_a_manager_sees_a_person_read_only_without_the_password_hash(people, login):
    carol = people["carol"]

    response = login(people["manager"]).get(user_url("change", carol.pk))

    body = response.content.decode()
    assert response.status_code == 200
    assert carol.email in body
    assert "pbkdf2" not in body and "md5" not in body
    assert 'name="_save"' not in body


def test_a_superuser_adds_a_person_with_email_and_password_who_can_log_in(
    people, login
):
    response = login(people["superuser"]).post(
        user_url("add"),
        {
            "email": "  Dora@Example.COM ",
            "usable_password": "true",
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
            "groups": [Group.objects.get(name=roles.USERS).pk],
        },
    )

    assert response.status_code == 302
    dora = User.objects.get(email="dora@example.com")
    assert dora.is_staff and dora.email_confirmed
    assert dora.groups.filter(name=roles.USERS).exists()
    request = RequestFactory().post(reverse("admin:login"))
    assert authenticate(request, username="DORA@example.com", password=STRONG_PASSWORD)


@pytest.mark.parametrize(
    ("email", "password2", "field"),
    [
        ("CAROL@example.com", STRONG_PASSWORD, "email"),
        ("not-an-address", STRONG_PASSWORD, "email"),
        ("ok@example.com", "something-else-entirely-99", "password2"),
    ],
)
def test_the_add_form_refuses_bad_input_next_to_the_field(
    people, login, email, password2, field
):
    response = login(people["superuser"]).post(
        user_url("add"),
        {
            "email": email,
            "usable_password": "true",
            "password1": STRONG_PASSWORD,
            "password2": password2,
        },
    )

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors


def test_the_change_form_refuses_an_address_taken_in_another_case(people, login):
    carol = people["carol"]

    response = login(people["superuser"]).post(
        user_url("change", carol.pk),
        {"email": "ALICE@example.com", "is_active": "on", "is_staff": "on"},
    )

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors


def test_blocking_needs_the_confirmation_forms_csrf_token(people):
    carol = people["carol"]
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(people["manager"], backend="apps.users.backends.EmailBackend")

    forged = http.post(user_url("block_detail", carol.pk), {"post": "yes"})
    assert forged.status_code == 403
    assert not blocked(carol)

    page = http.get(user_url("block_detail", carol.pk))
    token = page.context["csrf_token"]
    answer = http.post(
        user_url("block_detail", carol.pk),
        {"post": "yes", "csrfmiddlewaretoken": str(token)},
    )
    assert answer.status_code == 302
    assert blocked(carol)


@pytest.mark.parametrize(
    "groups", [[roles.EDITORS], [roles.USERS, roles.EDITORS]], ids=["editor", "both"]
)
def test_a_manager_blocks_only_users_not_content_editors(people, login, groups):
    """Managers oversee the people who send mail; the blog's editors answer to the
    superuser, whom a manager could otherwise lock out of the site's content."""
    editor = UserFactory(email="writer@example.com")
    editor.groups.set(Group.objects.filter(name__in=groups))
    http = login(people["manager"])

    page = http.get(user_url("change", editor.pk))
    detail = http.post(user_url("block_detail", editor.pk), {"post": "yes"})

    assert page.status_code == 200
    assert user_url("block_detail", editor.pk) not in page.content.decode()
    assert detail.status_code == 403
    assert not blocked(editor)


def test_a_superuser_may_block_a_content_editor(people, login):
    editor = people["editor"]
    http = login(people["superuser"])

    http.post(user_url("block_detail", editor.pk), {"post": "yes"})

    assert blocked(editor)


def test_a_manager_may_block_a_registration_that_was_never_confirmed(people, login):
    pending = UserFactory(email="pending@example.com", email_confirmed=False)

    login(people["manager"]).post(user_url("block_detail", pending.pk), {"post": "yes"})

    assert blocked(pending)
