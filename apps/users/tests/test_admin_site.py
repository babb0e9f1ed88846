"""The admin as a whole: a sidebar per role that agrees with the pages, and the pages
kept for superusers (groups, django-q2's task queue)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django_q.models import Failure, OrmQ, Schedule, Success
from unfold.admin import ModelAdmin as UnfoldModelAdmin

from apps.core.navigation import sidebar_navigation

pytestmark = pytest.mark.django_db

MAILINGS = ["Mailings", "Clients", "Messages", "Layouts", "Attempts"]
TASKS = ["Schedules", "Successful tasks", "Failed tasks"]
SENDING = ["Sender addresses", "Footers"]


def sidebar_titles(user) -> list[str]:
    request = RequestFactory().get("/admin/")
    request.user = user
    return [
        str(item["title"])
        for group in sidebar_navigation(request)
        for item in group["items"]
    ]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("alice", ["Dashboard", *MAILINGS, *SENDING]),
        # Managers look at sender addresses; footers are each owner's own.
        ("manager", ["Dashboard", *MAILINGS, "Sender addresses", "Users"]),
        ("editor", ["Dashboard", "Posts"]),
        (
            "superuser",
            ["Dashboard", *MAILINGS, *SENDING, "Posts", "Users", "Groups", *TASKS],
        ),
    ],
)
def test_each_role_gets_its_own_sidebar(request, role, expected):
    titles = sidebar_titles(request.getfixturevalue(role))

    # The ORM broker's queue page exists only with the ORM broker.
    assert [t for t in titles if t != "Queued tasks"] == expected


@pytest.mark.parametrize("role", ["alice", "manager", "editor", "superuser"])
def test_every_sidebar_link_opens_for_its_role(request, login, role):
    user = request.getfixturevalue(role)
    http = login(user)
    req = RequestFactory().get("/admin/")
    req.user = user

    links = [
        item["link"] for group in sidebar_navigation(req) for item in group["items"]
    ]

    assert links
    for link in links:
        assert http.get(link).status_code == 200, link


def test_the_dashboard_renders_the_sidebar_for_a_user(alice, login):
    body = login(alice).get(reverse("admin:index")).content.decode()

    assert reverse("admin:mailings_client_changelist") in body
    assert reverse("admin:users_user_changelist") not in body
    assert reverse("admin:django_q_schedule_changelist") not in body


QUEUE_MODELS = [Schedule, Success, Failure, OrmQ]


@pytest.mark.parametrize("model", QUEUE_MODELS, ids=lambda m: m.__name__)
def test_the_task_queue_pages_are_restyled_with_unfold(model):
    if not admin.site.is_registered(model):
        pytest.skip("the ORM queue exists only with the ORM broker")
    assert isinstance(admin.site.get_model_admin(model), UnfoldModelAdmin)


@pytest.mark.parametrize("model", QUEUE_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("role", "status"),
    [("alice", 403), ("manager", 403), ("editor", 403), ("superuser", 200)],
)
def test_only_a_superuser_opens_the_task_queue(request, login, model, role, status):
    if not admin.site.is_registered(model):
        pytest.skip("the ORM queue exists only with the ORM broker")
    http = login(request.getfixturevalue(role))
    opts = model._meta

    response = http.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    assert response.status_code == status


def test_a_manager_cannot_add_a_schedule_even_by_posting(manager, login):
    response = login(manager).post(
        reverse("admin:django_q_schedule_add"),
        {"func": "os.system", "args": "'id'", "schedule_type": "O", "repeats": "-1"},
    )

    assert response.status_code == 403
    assert not Schedule.objects.filter(func="os.system").exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [("alice", 403), ("manager", 403), ("editor", 403), ("superuser", 200)],
)
def test_only_a_superuser_manages_groups(request, login, role, status):
    http = login(request.getfixturevalue(role))

    assert http.get(reverse("admin:auth_group_changelist")).status_code == status
    assert http.get(reverse("admin:auth_group_add")).status_code == status
