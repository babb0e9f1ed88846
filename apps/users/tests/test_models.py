import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.db import IntegrityError
from django.test import RequestFactory

from apps.users import roles
from apps.users.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_the_data_migration_creates_the_three_groups_with_their_permissions():
    perms = {
        g.name: {
            f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()
        }
        for g in Group.objects.prefetch_related("permissions__content_type")
    }
    for name, expected in roles.GROUP_PERMISSIONS.items():
        assert perms[name] == set(expected)


def test_email_is_unique_whatever_its_case():
    User.objects.create_user("Ann@Example.com", "pw-12345678")
    with pytest.raises(IntegrityError):
        User.objects.create(email="ann@EXAMPLE.com")


def test_login_is_by_email_and_case_insensitive():
    user = UserFactory(email="carol@example.com")
    assert (
        authenticate(
            RequestFactory().post("/admin/login/"),
            username="CAROL@example.COM",
            password=PASSWORD,
        )
        == user
    )


def test_an_unconfirmed_person_cannot_log_in():
    UserFactory(email="new@example.com", email_confirmed=False)
    assert (
        authenticate(
            RequestFactory().post("/admin/login/"),
            username="new@example.com",
            password=PASSWORD,
        )
        is None
    )


def test_a_blocked_person_cannot_log_in():
    UserFactory(email="bad@example.com", is_blocked=True)
    assert (
        authenticate(
            RequestFactory().post("/admin/login/"),
            username="bad@example.com",
            password=PASSWORD,
        )
        is None
    )


def test_a_blocked_persons_open_session_stops_working(alice, login):
    http = login(alice)
    assert http.get("/admin/").status_code == 200
    User.objects.filter(pk=alice.pk).update(is_blocked=True)
    response = http.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_creating_a_user_does_not_make_an_anonymous_user_row():
    assert not User.objects.filter(email__icontains="anonymous").exists()


@pytest.mark.django_db(transaction=True)
def test_the_groups_come_back_after_a_flush():
    from django.core.management import call_command

    call_command("flush", "--noinput", verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) == set(
        roles.GROUP_PERMISSIONS
    )
    assert Group.objects.get(name=roles.MANAGERS).permissions.count() == len(
        roles.GROUP_PERMISSIONS[roles.MANAGERS]
    )
