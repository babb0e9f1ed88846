"""The demo fixtures load on a freshly migrated database, give the demo user their
objects (with guardian's object permissions), and send nothing by being loaded.

(The fixtures are demo data, not test data: this is the one test that loads them.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from apps.blog.models import Post
from apps.mailings.models import Attempt, Client, Mailing, Message
from apps.users import roles
from apps.users.models import User

pytestmark = pytest.mark.django_db

FIXTURES = sorted((Path(settings.BASE_DIR) / "fixtures").glob("*.json"))
DEMO_PASSWORD = "mailshot-demo"


@pytest.fixture
def demo(db):
    call_command("loaddata", *FIXTURES, verbosity=0)
    return User.objects.get(email="user@example.com")


def test_the_fixtures_are_numbered_and_all_load():
    assert [f.name[:5] for f in FIXTURES] == ["0001_", "0002_", "0003_"]


def test_the_demo_user_has_clients_messages_and_three_kinds_of_mailing(demo):
    assert Client.objects.filter(owner=demo).count() == 10
    assert Message.objects.filter(owner=demo).count() == 3
    mailings = Mailing.objects.filter(owner=demo)
    assert {m.periodicity for m in mailings} >= {"once", "daily"}
    assert mailings.filter(status=Mailing.Status.FINISHED).exists()
    assert mailings.filter(start_at__gt=timezone.now()).count() == 2
    assert Attempt.objects.filter(mailing__owner=demo).exists()


def test_loading_the_demo_sends_nothing(demo):
    now = timezone.now()
    unfinished = Mailing.objects.exclude(status=Mailing.Status.FINISHED)

    assert not unfinished.filter(start_at__lte=now).exists()
    assert not unfinished.filter(next_run_at__lte=now).exists()
    # The queue runs synchronously under test: a queued run would have made attempts.
    assert Attempt.objects.count() == 1


def test_the_demo_people_are_in_their_groups_and_confirmed(demo):
    expected = {
        "user@example.com": roles.USERS,
        "manager@example.com": roles.MANAGERS,
        "editor@example.com": roles.EDITORS,
    }
    for email, group in expected.items():
        person = User.objects.get(email=email)
        assert person.email_confirmed and person.is_staff and not person.is_blocked
        assert list(person.groups.values_list("name", flat=True)) == [group]
    assert User.objects.get(email="admin@example.com").is_superuser


def test_every_demo_login_works_with_the_demo_password(demo, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    for email in [
        "user@example.com",
        "manager@example.com",
        "editor@example.com",
        "admin@example.com",
    ]:
        person = User.objects.get(email=email)
        assert person.password.startswith("pbkdf2_sha256$")
        request = RequestFactory().post(reverse("admin:login"))
        assert authenticate(request, username=email, password=DEMO_PASSWORD) == person


def test_the_demo_user_sees_their_clients_in_the_admin_and_others_do_not(
    demo, bob, login
):
    page = login(demo).get(reverse("admin:mailings_client_changelist"))
    bobs_page = login(bob).get(reverse("admin:mailings_client_changelist"))

    assert page.status_code == 200
    assert page.context["cl"].result_count == 10
    assert bobs_page.context["cl"].result_count == 0
    for client in Client.objects.filter(owner=demo):
        assert demo.has_perm("mailings.change_client", client)
        assert not bob.has_perm("mailings.view_client", client)


def test_the_demo_user_can_open_every_object_of_theirs(demo, login):
    http = login(demo)
    for model, objects in [
        ("client", Client.objects.all()),
        ("message", Message.objects.all()),
        ("mailing", Mailing.objects.all()),
        ("attempt", Attempt.objects.all()),
    ]:
        for obj in objects:
            change = reverse(f"admin:mailings_{model}_change", args=[obj.pk])
            assert http.get(change).status_code == 200, change


def test_the_posts_are_published_with_images_that_ship_with_the_fixtures(demo):
    posts = Post.objects.published()
    assert posts.count() >= 3
    for post in posts:
        assert post.image
        assert (
            Path(settings.BASE_DIR) / "fixtures" / "media" / post.image.name
        ).is_file()


def test_loading_twice_changes_nothing(demo):
    counts = [Client.objects.count(), Mailing.objects.count(), User.objects.count()]

    call_command("loaddata", *FIXTURES, verbosity=0)

    assert [Client.objects.count(), Mailing.objects.count(), User.objects.count()] == (
        counts
    )
