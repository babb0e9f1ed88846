"""The audience pages, actions and endpoints, for every role: alice (owner), bob
(another user), a manager (looks, and keeps the site-wide suppressions), an editor
and an anonymous visitor. Denied means refused and nothing changed."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from apps.audiences import services
from apps.audiences.models import ClientList, Segment, Subscription, Suppression
from apps.audiences.tests.factories import ClientListFactory, SegmentFactory
from apps.mailings.models import Mailing
from tests.factories import ClientFactory, MailingFactory, MessageFactory

pytestmark = pytest.mark.django_db

ROLES = ["alice", "bob", "manager", "editor", "anonymous"]


@pytest.fixture
def people(alice, bob, manager, editor):
    return {"alice": alice, "bob": bob, "manager": manager, "editor": editor}


@pytest.fixture
def browser(people):
    def _as(role: str) -> HttpClient:
        http = HttpClient()
        if role != "anonymous":
            http.force_login(people[role], backend="apps.users.backends.EmailBackend")
        return http

    return _as


@pytest.fixture
def world(alice, bob):
    ann = ClientFactory(owner=alice, email="ann@alice.example", full_name="Ann")
    ben = ClientFactory(owner=alice, email="ben@alice.example", full_name="Ben")
    newsletter = ClientListFactory(owner=alice, name="Alice news", members=[ann])
    segment = SegmentFactory(
        owner=alice,
        name="Alice domain",
        rules=[{"condition": "email_domain", "field": "", "value": "alice.example"}],
    )
    manual = services.suppression_add(email="gone@alice.example", owner=alice)
    ClientListFactory(owner=bob, name="Bob news")
    return {
        "ann": ann,
        "ben": ben,
        "list": newsletter,
        "segment": segment,
        "manual": manual,
    }


def _status(response) -> str:
    if response.status_code == 302 and "/login/" in response["Location"]:
        return "login"
    return str(response.status_code)


# --- lists -----------------------------------------------------------------------

LIST_CHANGELIST = {"alice": "200+", "bob": "200-", "manager": "200+", "editor": "403"}


@pytest.mark.parametrize("role", ROLES)
def test_the_list_of_lists_shows_each_person_what_is_theirs(browser, world, role):
    response = browser(role).get(reverse("admin:audiences_clientlist_changelist"))
    if role == "anonymous":
        assert _status(response) == "login"
        return
    expected = LIST_CHANGELIST[role]
    assert str(response.status_code) == expected[:3]
    if expected.endswith("+"):
        assert "Alice news" in response.content.decode()
    if expected.endswith("-"):
        assert "Alice news" not in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_only_the_owner_may_change_a_list_and_its_members(browser, world, role):
    newsletter = world["list"]
    url = reverse("admin:audiences_clientlist_change", args=[newsletter.pk])
    response = browser(role).post(
        url,
        {
            "name": "Renamed",
            "description": "",
            "double_opt_in": "on",
            "add_clients": [world["ben"].pk],
        },
    )
    newsletter.refresh_from_db()
    members = set(newsletter.subscriptions.values_list("client__email", flat=True))
    if role == "alice":
        assert response.status_code == 302
        assert newsletter.name == "Renamed"
        assert members == {"ann@alice.example", "ben@alice.example"}
    else:
        assert response.status_code in (302, 403)
        assert newsletter.name == "Alice news"
        assert members == {"ann@alice.example"}


def test_a_manager_sees_a_list_read_only_with_its_members(browser, world):
    url = reverse("admin:audiences_clientlist_change", args=[world["list"].pk])
    body = browser("manager").get(url).content.decode()
    assert "ann@alice.example" in body
    assert 'name="name"' not in body  # no editable field


def test_the_owner_cannot_add_someone_elses_client_to_a_list(browser, world, bob):
    stranger = ClientFactory(owner=bob, email="stranger@bob.example")
    url = reverse("admin:audiences_clientlist_change", args=[world["list"].pk])
    response = browser("alice").post(
        url, {"name": "Alice news", "add_clients": [stranger.pk]}
    )
    assert response.status_code == 200  # the form again, with an error
    assert not Subscription.objects.filter(client=stranger).exists()


def test_the_list_page_costs_the_same_queries_with_more_lists(
    browser, alice, django_assert_max_num_queries
):
    from cachalot.api import cachalot_disabled
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    http = browser("alice")
    url = reverse("admin:audiences_clientlist_changelist")
    ClientListFactory(owner=alice)
    with cachalot_disabled(), CaptureQueriesContext(connection) as few:
        http.get(url)
    for _ in range(30):
        ClientListFactory(owner=alice, members=[ClientFactory(owner=alice)])
    with cachalot_disabled(), CaptureQueriesContext(connection) as many:
        http.get(url)
    assert len(many) == len(few)
    with django_assert_max_num_queries(len(few)), cachalot_disabled():
        http.get(url)


# --- segments ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_a_segments_page_shows_its_count_and_first_clients_to_who_may_see_it(
    browser, world, role
):
    url = reverse("admin:audiences_segment_change", args=[world["segment"].pk])
    response = browser(role).get(url)
    if role in ("alice", "manager"):
        body = response.content.decode()
        assert response.status_code == 200
        assert "2 clients match" in body and "ann@alice.example" in body
    elif role == "anonymous":
        assert _status(response) == "login"
    else:
        assert response.status_code in (302, 403, 404)
        assert "ann@alice.example" not in response.content.decode()


def _rules_post(*rows) -> dict:
    data: dict = {"rules-rows": str(len(rows))}
    for i, (condition, field, value) in enumerate(rows):
        data[f"rules-{i}-condition"] = condition
        data[f"rules-{i}-field"] = field
        data[f"rules-{i}-value"] = value
    return data


@pytest.mark.parametrize("role", ROLES)
def test_the_live_preview_counts_only_the_persons_own_clients(browser, world, role):
    url = reverse("admin:audiences_segment_preview")
    response = browser(role).post(
        url, _rules_post(("email_domain", "", "alice.example"))
    )
    if role == "alice":
        assert response.json()["count"] == 2
    elif role == "bob":
        assert response.json()["count"] == 0
    elif role == "anonymous":
        assert _status(response) == "login"
    else:
        assert response.status_code == 403


def test_a_bad_rule_is_a_form_error_not_a_crash(browser, world, bob):
    bobs = ClientList.objects.get(owner=bob)
    response = browser("alice").post(
        reverse("admin:audiences_segment_add"),
        {
            "name": "Broken",
            **_rules_post(
                ("created_after", "", "yesterday"),
                ("in_list", "", str(bobs.pk)),
                ("attr_equals", "", "x"),
                ("nonsense", "", "x"),
            ),
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Condition 1: Enter a date" in body
    assert "Condition 2: Choose one of your lists." in body
    assert "Condition 3: Name the attribute" in body
    assert not Segment.objects.filter(name="Broken").exists()


def test_rows_make_a_segment_a_list_may_be_named(browser, world, alice):
    response = browser("alice").post(
        reverse("admin:audiences_segment_add"),
        {
            "name": "Readers in Tver",
            **_rules_post(
                ("in_list", "", "alice news"), ("attr_contains", "city", "tver")
            ),
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Readers in Tver")
    assert segment.owner == alice
    assert segment.rules == [
        {"condition": "in_list", "field": "", "value": str(world["list"].pk)},
        {"condition": "attr_contains", "field": "city", "value": "tver"},
    ]


@pytest.mark.parametrize("role", ["bob", "manager", "editor"])
def test_only_the_owner_changes_a_segment(browser, world, role):
    segment = world["segment"]
    browser(role).post(
        reverse("admin:audiences_segment_change", args=[segment.pk]),
        {"name": "Hijacked", **_rules_post()},
    )
    segment.refresh_from_db()
    assert segment.name == "Alice domain"


# --- suppressions -----------------------------------------------------------------


def test_the_owner_adds_a_manual_entry_and_may_delete_it(browser, world, alice):
    http = browser("alice")
    http.post(reverse("admin:audiences_suppression_add"), {"email": "x@y.example"})
    entry = Suppression.objects.get(email="x@y.example")
    assert entry.owner == alice and entry.reason == "manual"
    http.post(
        reverse("admin:audiences_suppression_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert not Suppression.objects.filter(pk=entry.pk).exists()


def test_the_owner_cannot_delete_a_recipients_own_unsubscribe(browser, world, alice):
    services.recipient_unsubscribed(client=world["ann"])
    entry = Suppression.objects.get(email="ann@alice.example")
    http = browser("alice")
    response = http.post(
        reverse("admin:audiences_suppression_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    http.post(
        reverse("admin:audiences_suppression_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert Suppression.objects.filter(pk=entry.pk).exists()


def test_the_owner_cannot_untick_unsubscribed_of_someone_who_opted_out(browser, world):
    ann = world["ann"]
    from apps.mailings import services as mailing_services

    mailing_services.client_unsubscribe(client=ann)
    browser("alice").post(
        reverse("admin:mailings_client_change", args=[ann.pk]),
        {"email": ann.email, "full_name": "Ann", "comment": "", "attributes-rows": "0"},
    )
    ann.refresh_from_db()
    assert ann.is_unsubscribed


def test_a_manager_adds_and_removes_site_wide_entries_an_owner_cannot(
    browser, world, alice
):
    browser("alice").post(
        reverse("admin:audiences_suppression_add"),
        {"email": "site@x.example", "sitewide": "on"},
    )
    assert Suppression.objects.get(email="site@x.example").owner == alice
    browser("manager").post(
        reverse("admin:audiences_suppression_add"),
        {"email": "bounce@x.example", "sitewide": "on"},
    )
    entry = Suppression.objects.get(email="bounce@x.example")
    assert entry.owner is None
    browser("alice").post(
        reverse("admin:audiences_suppression_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert Suppression.objects.filter(pk=entry.pk).exists()
    browser("manager").post(
        reverse("admin:audiences_suppression_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert not Suppression.objects.filter(pk=entry.pk).exists()


def test_a_manager_cannot_delete_an_owners_entry(browser, world):
    manual = world["manual"]
    browser("manager").post(
        reverse("admin:audiences_suppression_delete", args=[manual.pk]),
        {"post": "yes"},
    )
    assert Suppression.objects.filter(pk=manual.pk).exists()


@pytest.mark.parametrize("role", ROLES)
def test_suppressions_are_seen_by_their_owner_and_managers_only(browser, world, role):
    response = browser(role).get(reverse("admin:audiences_suppression_changelist"))
    body = response.content.decode()
    if role in ("alice", "manager"):
        assert "gone@alice.example" in body
    elif role == "bob":
        assert response.status_code == 200 and "gone@alice.example" not in body
    elif role == "editor":
        assert response.status_code == 403
    else:
        assert _status(response) == "login"


@pytest.mark.parametrize("role", ROLES)
def test_a_suppression_file_is_imported_for_its_uploader(browser, world, role, people):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = "e-mail;name\nOne@Example.org;x\nnot-an-address;y\ntwo@example.org;z\n"
    upload = SimpleUploadedFile("s.csv", data.encode("cp1251"), "text/csv")
    response = browser(role).post(
        reverse("admin:audiences_suppression_import_file"), {"file": upload}
    )
    created = Suppression.objects.filter(
        email__in=["One@Example.org", "two@example.org"]
    )
    if role in ("alice", "bob"):
        assert response.status_code == 302
        assert {s.owner for s in created} == {people[role]}
        assert created.count() == 2
    else:
        assert created.count() == 0
        if role == "anonymous":
            assert _status(response) == "login"
        else:
            assert response.status_code == 403


# --- client actions ---------------------------------------------------------------


def test_add_to_list_asks_which_list_then_adds(browser, world):
    http = browser("alice")
    url = reverse("admin:mailings_client_changelist")
    selection = {"_selected_action": [world["ben"].pk, world["ann"].pk]}
    page = http.post(url, {"action": "add_to_list", **selection})
    assert page.status_code == 200
    assert "Alice news" in page.content.decode()
    assert "Bob news" not in page.content.decode()
    http.post(
        url,
        {
            "action": "add_to_list",
            "post": "yes",
            "client_list": world["list"].pk,
            **selection,
        },
    )
    assert world["list"].subscriptions.count() == 2
    http.post(
        url,
        {
            "action": "remove_from_list",
            "post": "yes",
            "client_list": world["list"].pk,
            "_selected_action": [world["ann"].pk],
        },
    )
    assert list(
        world["list"].subscriptions.values_list("client__email", flat=True)
    ) == ["ben@alice.example"]


def test_bob_cannot_put_alices_clients_in_his_list_or_hers(browser, world, bob):
    bobs = ClientList.objects.get(owner=bob)
    http = browser("bob")
    url = reverse("admin:mailings_client_changelist")
    for client_list in (bobs, world["list"]):
        http.post(
            url,
            {
                "action": "add_to_list",
                "post": "yes",
                "client_list": client_list.pk,
                "_selected_action": [world["ben"].pk],
            },
        )
    assert not Subscription.objects.filter(client=world["ben"]).exists()


@pytest.mark.parametrize("role", ["manager", "editor"])
def test_people_who_keep_no_lists_have_no_list_actions(browser, world, role):
    response = browser(role).post(
        reverse("admin:mailings_client_changelist"),
        {
            "action": "add_to_list",
            "post": "yes",
            "client_list": world["list"].pk,
            "_selected_action": [world["ben"].pk],
        },
    )
    assert response.status_code in (200, 302, 403)
    assert not Subscription.objects.filter(client=world["ben"]).exists()


def test_new_mailing_to_the_selected_clients_opens_the_form_with_them(browser, world):
    response = browser("alice").post(
        reverse("admin:mailings_client_changelist"),
        {
            "action": "new_mailing",
            "_selected_action": [world["ann"].pk, world["ben"].pk],
        },
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(reverse("admin:mailings_mailing_add"))
    form = browser("alice").get(location).content.decode()
    assert "ann@alice.example" in form and "ben@alice.example" in form


def test_the_client_list_filters_by_list_and_by_suppression(browser, world):
    http = browser("alice")
    url = reverse("admin:mailings_client_changelist")
    by_list = http.get(url, {"client_list": world["list"].pk}).content.decode()
    assert "ann@alice.example" in by_list and "ben@alice.example" not in by_list
    services.suppression_add(email="BEN@alice.example", owner=None, reason="complaint")
    suppressed = http.get(url, {"suppressed": "yes"}).content.decode()
    assert "ben@alice.example" in suppressed and "ann@alice.example" not in suppressed
    page = http.get(reverse("admin:mailings_client_change", args=[world["ben"].pk]))
    assert "Complaint" in page.content.decode()


# --- the mailing form -------------------------------------------------------------


def _count(http, **params):
    return http.get(reverse("admin:mailings_mailing_recipient_count"), params)


@pytest.mark.parametrize("role", ROLES)
def test_the_recipient_count_endpoint_counts_only_the_persons_own_targets(
    browser, world, role
):
    response = _count(
        browser(role),
        lists=[world["list"].pk],
        segments=[world["segment"].pk],
        clients=[world["ben"].pk],
    )
    if role == "alice":
        assert response.json()["total"] == 2
    elif role == "bob":
        assert response.json()["total"] == 0
    elif role == "anonymous":
        assert _status(response) == "login"
    else:
        assert response.status_code == 403


def test_the_count_leaves_out_unsubscribed_and_suppressed(browser, world):
    services.suppression_add(
        email="ann@alice.example", owner=None, reason="hard_bounce"
    )
    result = _count(browser("alice"), to_all_clients="on").json()
    assert (result["total"], result["sendable"]) == (2, 1)
    assert result["text"] == "1 recipient (1 more unsubscribed or suppressed)"


def test_a_mailing_needs_at_least_one_target(browser, world, alice):
    message = MessageFactory(owner=alice)
    data = {
        "message": message.pk,
        "start_at_0": "2030-01-01",
        "start_at_1": "10:00",
        "end_at_0": "2030-02-01",
        "end_at_1": "10:00",
        "periodicity": "once",
    }
    http = browser("alice")
    response = http.post(reverse("admin:mailings_mailing_add"), data)
    assert response.status_code == 200
    assert "Choose who receives it" in response.content.decode()
    response = http.post(
        reverse("admin:mailings_mailing_add"), {**data, "lists": [world["list"].pk]}
    )
    assert response.status_code == 302
    assert list(Mailing.objects.get(message=message).lists.all()) == [world["list"]]


def test_a_mailing_cannot_target_someone_elses_list_or_segment(browser, world, bob):
    message = MessageFactory(owner=bob)
    response = browser("bob").post(
        reverse("admin:mailings_mailing_add"),
        {
            "message": message.pk,
            "lists": [world["list"].pk],
            "segments": [world["segment"].pk],
            "start_at_0": "2030-01-01",
            "start_at_1": "10:00",
            "end_at_0": "2030-02-01",
            "end_at_1": "10:00",
            "periodicity": "once",
        },
    )
    assert response.status_code == 200
    assert not Mailing.objects.filter(message=message).exists()


def test_a_mailings_page_asks_for_its_resolved_recipients(browser, world, alice):
    mailing = MailingFactory(owner=alice, message=MessageFactory(owner=alice))
    mailing.lists.set([world["list"]])
    mailing.segments.set([world["segment"]])
    http = browser("alice")
    page = http.get(reverse("admin:mailings_mailing_change", args=[mailing.pk]))
    assert "audiences/recipient-count.js" in page.content.decode()
    targets = {"lists": [world["list"].pk], "segments": [world["segment"].pk]}
    # Its saved clients count too while the form does not show them (many clients).
    mailing.clients.add(ClientFactory(owner=alice, email="picked@else.example"))
    result = _count(http, mailing=mailing.pk, **targets).json()
    assert result["text"] == "3 recipients"
    assert _count(browser("bob"), mailing=mailing.pk).status_code == 403


def test_a_large_segments_page_counts_no_further_than_its_cap(
    browser, world, alice, monkeypatch
):
    from apps.audiences import admin as audience_admin

    monkeypatch.setattr(audience_admin, "PAGE_COUNT_CAP", 1)
    url = reverse("admin:audiences_segment_change", args=[world["segment"].pk])
    body = browser("alice").get(url).content.decode()
    assert "More than 1 clients match" in body
    preview = browser("alice").post(
        reverse("admin:audiences_segment_preview"),
        _rules_post(("email_domain", "", "alice.example")),
    )
    assert preview.json()["count"] == 2


def test_deleting_selected_entries_asks_first_and_keeps_the_recipients_own(
    browser, world
):
    services.recipient_unsubscribed(client=world["ann"])
    own = Suppression.objects.get(email="ann@alice.example")
    manual = world["manual"]
    http = browser("alice")
    url = reverse("admin:audiences_suppression_changelist")
    selection = {"action": "delete_selected", "_selected_action": [own.pk, manual.pk]}
    page = http.post(url, selection)
    assert page.status_code == 200
    assert "only the recipient can undo" in page.content.decode()
    assert Suppression.objects.filter(pk=manual.pk).exists()
    http.post(url, {**selection, "post": "yes"})
    assert not Suppression.objects.filter(pk=manual.pk).exists()
    assert Suppression.objects.filter(pk=own.pk).exists()


def test_add_to_list_for_all_filtered_clients_sends_only_the_pages_ids(browser, world):
    http = browser("alice")
    url = reverse("admin:mailings_client_changelist")
    page = http.post(
        url,
        {
            "action": "add_to_list",
            "select_across": "1",
            "_selected_action": [world["ann"].pk],
        },
    )
    body = page.content.decode()
    assert 'name="select_across" value="1"' in body
    assert body.count('name="_selected_action"') == 1  # the page's, not everyone's
    http.post(
        url,
        {
            "action": "add_to_list",
            "select_across": "1",
            "post": "yes",
            "client_list": world["list"].pk,
            "_selected_action": [world["ann"].pk],
        },
    )
    assert world["list"].subscriptions.count() == 2
