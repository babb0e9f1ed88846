"""Each list's stored member counts (apps.audiences.counters): after every path that
writes subscriptions, the stored numbers equal an exact COUNT; a stale list saved
later does not put old numbers back; the cache never shows an old count; the pages
read the stored numbers (their queries do not grow with the members)."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from cachalot.api import cachalot_disabled
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.api import services as api_services
from apps.api.tests.conftest import Api
from apps.audiences import counters, public_services, services
from apps.audiences.models import ClientList, Subscription
from apps.audiences.tests.factories import ClientListFactory
from apps.core.deletion import permitted_delete
from apps.mailings import imports
from apps.mailings import services as mailing_services
from apps.mailings.imports import clients_import
from apps.mailings.models import Client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

SUBSCRIBED = Subscription.Status.SUBSCRIBED
UNCONFIRMED = Subscription.Status.UNCONFIRMED
UNSUBSCRIBED = Subscription.Status.UNSUBSCRIBED


def exact(client_list: ClientList) -> tuple[int, int]:
    counts = Subscription.objects.filter(client_list=client_list).aggregate(
        subscribed=Count("pk", filter=Q(status=SUBSCRIBED)),
        unconfirmed=Count("pk", filter=Q(status=UNCONFIRMED)),
    )
    return counts["subscribed"], counts["unconfirmed"]


def stored(client_list: ClientList) -> tuple[int, int]:
    with cachalot_disabled():
        row = ClientList.objects.values_list(
            "subscriber_count", "unconfirmed_count"
        ).get(pk=client_list.pk)
    return row[0], row[1]


def assert_counts(client_list: ClientList, subscribed: int, unconfirmed: int) -> None:
    """Stored == exact == what the test expects."""
    assert stored(client_list) == exact(client_list) == (subscribed, unconfirmed)


@pytest.fixture
def news(alice):
    return ClientListFactory(owner=alice, name="News", double_opt_in=False)


@pytest.fixture
def other(alice):
    return ClientListFactory(owner=alice, name="Other")


def clients(owner: Any, count: int, prefix: str = "c") -> list[Client]:
    return [
        cast(Client, ClientFactory(owner=owner, email=f"{prefix}{n}@example.org"))
        for n in range(count)
    ]


# --- the statuses counted match the models' ---------------------------------------


def test_the_counted_statuses_are_the_models_own():
    assert counters.SUBSCRIBED == SUBSCRIBED.value
    assert counters.UNCONFIRMED == UNCONFIRMED.value
    assert counters.LISTS == ClientList._meta.db_table
    assert counters.SUBSCRIPTIONS == Subscription._meta.db_table


def test_every_trigger_is_in_the_migrated_database():
    """A later migration that re-creates either table (SQLite) without calling
    counters.install again would leave the counts unmaintained: this turns red."""
    assert counters.installed() == set(counters.TRIGGERS)


# --- every path that writes subscriptions --------------------------------------------


def test_a_new_list_starts_at_zero(news):
    assert_counts(news, 0, 0)


def test_adding_and_removing_members_in_the_admin_services(alice, news, other):
    people = clients(alice, 5)
    services.list_members_add(client_list=news, clients=people)
    services.list_members_add(client_list=other, clients=people[:2])
    assert_counts(news, 5, 0)
    assert_counts(other, 2, 0)
    services.list_members_remove(client_list=news, clients=people[:3])
    assert_counts(news, 2, 0)
    assert_counts(other, 2, 0)


def test_adding_members_on_the_lists_admin_page(alice, login, news):
    people = clients(alice, 3)
    url = reverse("admin:audiences_clientlist_change", args=[news.pk])
    response = login(alice).post(
        url,
        {
            "name": "News",
            "description": "",
            "double_opt_in": "",
            "add_clients": [c.pk for c in people],
        },
    )
    assert response.status_code == 302
    assert_counts(news, 3, 0)
    response = login(alice).post(
        url, {"name": "News", "remove_clients": [people[0].pk]}
    )
    assert response.status_code == 302
    assert_counts(news, 2, 0)


def test_adding_members_who_were_unconfirmed_or_had_left(alice, news):
    ann, ben, cat = clients(alice, 3)
    Subscription.objects.create(client=ann, client_list=news, status=UNCONFIRMED)
    Subscription.objects.create(client=ben, client_list=news, status=UNSUBSCRIBED)
    assert_counts(news, 0, 1)
    services.list_members_add(client_list=news, clients=[ann, ben, cat])
    assert_counts(news, 3, 0)


def test_an_import_into_a_list(alice, news):
    ClientFactory(owner=alice, email="known@example.org")

    def rows():
        yield 1, {"email": "known@example.org"}
        for n in range(25):
            yield n + 2, {"email": f"new{n}@example.org", "full_name": f"N {n}"}

    report = clients_import(
        owner=alice, open_rows=rows, batch_size=10, client_list=news
    )
    assert report.ok
    assert_counts(news, 26, 0)
    # Imported again: nobody new, the counts stay.
    clients_import(owner=alice, open_rows=rows, batch_size=10, client_list=news)
    assert_counts(news, 26, 0)


def test_the_imports_raw_insert_select(alice, news, other):
    """The import's own statement (one INSERT … SELECT per batch, ON CONFLICT DO
    NOTHING): the conflicting rows are not counted twice."""
    people = clients(alice, 30)
    services.list_members_add(client_list=news, clients=people[:10])
    with cachalot_disabled():
        imports._subscribe(news, [c.pk for c in people], now=timezone.now())
        imports._subscribe(other, [c.pk for c in people[:7]], now=timezone.now())
    assert_counts(news, 30, 0)
    assert_counts(other, 7, 0)


def test_the_public_form_and_its_confirmation(alice, smtp_sink):
    direct = ClientListFactory(owner=alice, is_public=True, double_opt_in=False)
    confirmed = ClientListFactory(owner=alice, is_public=True, double_opt_in=True)
    known = ClientFactory(owner=alice, email="known@example.org")
    public_services.subscription_request(client_list=direct, email="new@example.org")
    assert_counts(direct, 1, 0)
    # A client the owner has waits, unconfirmed; a stranger is not written at all.
    public_services.subscription_request(client_list=confirmed, email=known.email)
    public_services.subscription_request(
        client_list=confirmed, email="stranger@example.org"
    )
    assert_counts(confirmed, 0, 1)
    for email in (known.email, "stranger@example.org"):
        token = public_services.confirmation_token(confirmed, email, "")
        assert public_services.subscription_confirm(token=token) is not None
    assert_counts(confirmed, 2, 0)


def api_for(user: Any) -> Api:
    _key, token = api_services.api_key_create(
        owner=user, name="counters", scope="read_write"
    )
    return Api(token)


def test_the_api_subscribe_and_unsubscribe(alice, news, settings):
    settings.MAILSHOT_API_RATE = 100_000
    api = api_for(alice)
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        response = api.post(f"lists/{news.pk}/subscribe", {"email": email})
        assert response.status_code == 200, response.content
    assert_counts(news, 3, 0)
    response = api.post(f"lists/{news.pk}/unsubscribe", {"email": "b@example.org"})
    assert response.status_code == 200, response.content
    assert_counts(news, 2, 0)
    # Renaming the list through the API keeps the counts (its instance is older).
    response = api.patch(f"lists/{news.pk}", {"name": "Renamed"})
    assert response.status_code == 200, response.content
    assert_counts(news, 2, 0)


def test_a_recipient_unsubscribing_leaves_every_list(alice, news, other):
    ann, ben = clients(alice, 2)
    services.list_members_add(client_list=news, clients=[ann, ben])
    services.list_members_add(client_list=other, clients=[ann])
    Subscription.objects.filter(client=ben).update(status=UNCONFIRMED)
    mailing_services.client_unsubscribe(client=ann)
    assert_counts(news, 0, 1)
    assert_counts(other, 0, 0)
    services.recipient_unsubscribed(client=ben)
    assert_counts(news, 0, 0)


def test_status_changes_through_an_instance_and_a_queryset(alice, news):
    ann, ben, cat = clients(alice, 3)
    services.list_members_add(client_list=news, clients=[ann, ben, cat])
    subscription = Subscription.objects.get(client=ann)
    subscription.status = UNCONFIRMED
    subscription.save()
    assert_counts(news, 2, 1)
    subscription.save()  # the same status again: nothing moves
    assert_counts(news, 2, 1)
    Subscription.objects.filter(client_list=news).update(status=UNCONFIRMED)
    assert_counts(news, 0, 3)
    Subscription.objects.filter(client__in=[ann, ben]).update(status=UNSUBSCRIBED)
    assert_counts(news, 0, 1)
    Subscription.objects.filter(client_list=news).update(status=SUBSCRIBED)
    assert_counts(news, 3, 0)


def test_an_upsert_of_subscriptions(alice, news):
    """INSERT … ON CONFLICT DO UPDATE: the new rows count as inserted, the others
    as updated."""
    ann, ben, cat = clients(alice, 3)
    Subscription.objects.create(client=ann, client_list=news, status=UNCONFIRMED)
    Subscription.objects.create(client=ben, client_list=news, status=SUBSCRIBED)
    Subscription.objects.bulk_create(
        [
            Subscription(client=person, client_list=news, status=SUBSCRIBED)
            for person in (ann, ben, cat)
        ],
        update_conflicts=True,
        unique_fields=["client", "client_list"],
        update_fields=["status"],
    )
    assert_counts(news, 3, 0)


def test_moving_subscriptions_to_another_list(alice, news, other):
    people = clients(alice, 4)
    services.list_members_add(client_list=news, clients=people)
    Subscription.objects.filter(client=people[0]).update(status=UNCONFIRMED)
    Subscription.objects.filter(client__in=people[:3]).update(client_list=other)
    assert_counts(news, 1, 0)
    assert_counts(other, 2, 1)
    # Moved and changed at once, through an instance.
    subscription = Subscription.objects.get(client=people[3])
    subscription.client_list = other
    subscription.status = UNCONFIRMED
    subscription.save()
    assert_counts(news, 0, 0)
    assert_counts(other, 2, 2)


def test_deleting_clients_one_by_one_and_in_bulk(alice, news, other):
    people = clients(alice, 12)
    services.list_members_add(client_list=news, clients=people)
    services.list_members_add(client_list=other, clients=people[:6])
    Subscription.objects.filter(client=people[0], client_list=news).update(
        status=UNCONFIRMED
    )
    people[0].delete()  # Django's cascade
    assert_counts(news, 11, 0)
    assert_counts(other, 5, 0)
    Client.objects.filter(pk__in=[c.pk for c in people[1:3]]).delete()
    assert_counts(news, 9, 0)
    assert_counts(other, 3, 0)
    # The client admin's fast delete of many: raw DELETEs, relation by relation.
    outcome = permitted_delete(
        user=alice, model=Client, pks=[c.pk for c in people[3:10]]
    )
    assert outcome.deleted[Client] == 7
    assert_counts(news, 2, 0)
    assert_counts(other, 0, 0)


def test_deleting_a_list_leaves_the_others_right(alice, news, other):
    people = clients(alice, 4)
    services.list_members_add(client_list=news, clients=people)
    services.list_members_add(client_list=other, clients=people[:2])
    third = ClientListFactory(owner=alice, members=people[:3])
    news.delete()
    assert not Subscription.objects.filter(client_list_id=news.pk).exists()
    assert_counts(other, 2, 0)
    assert_counts(third, 3, 0)
    outcome = permitted_delete(user=alice, model=ClientList, pks=[other.pk])
    assert outcome.deleted[ClientList] == 1
    assert_counts(third, 3, 0)


def test_loading_a_fixture_does_not_double_its_counts(alice, news, tmp_path):
    """A list's fixture carries its counts; its subscriptions, loaded after (or
    before) it, must not add to them."""
    people = clients(alice, 3)
    services.list_members_add(client_list=news, clients=people)
    Subscription.objects.filter(client=people[0]).update(status=UNCONFIRMED)
    with cachalot_disabled():
        lists = json.loads(
            _dump("audiences.ClientList", [news.pk], tmp_path / "lists.json")
        )
        subscriptions = json.loads(
            _dump(
                "audiences.Subscription",
                list(news.subscriptions.values_list("pk", flat=True)),
                tmp_path / "subscriptions.json",
            )
        )
    assert lists[0]["fields"]["subscriber_count"] == 2
    for order in ([lists, subscriptions], [subscriptions, lists]):
        ClientList.objects.filter(pk=news.pk).delete()
        fixture = tmp_path / "fixture.json"
        fixture.write_text(json.dumps(order[0] + order[1]))
        call_command("loaddata", str(fixture), verbosity=0)
        assert_counts(news, 2, 1)


def _dump(model: str, pks: list[int], path: Any) -> str:
    call_command(
        "dumpdata",
        model,
        pks=",".join(str(pk) for pk in pks),
        output=str(path),
        verbosity=0,
    )
    return str(path.read_text())


def test_a_recount_repairs_wrong_counts(alice, news, other):
    services.list_members_add(client_list=news, clients=clients(alice, 3))
    ClientList.objects.update(subscriber_count=7, unconfirmed_count=5)
    counters.recount([news.pk])
    assert_counts(news, 3, 0)
    assert stored(other) == (7, 5)
    counters.recount()
    assert_counts(other, 0, 0)


# --- a stale instance saved later ----------------------------------------------------


def test_saving_a_stale_list_keeps_the_counts(alice, news):
    stale = ClientList.objects.get(pk=news.pk)
    assert stale.subscriber_count == 0
    services.list_members_add(client_list=news, clients=clients(alice, 5))
    stale.name = "Renamed"
    stale.save()
    assert_counts(news, 5, 0)
    news.refresh_from_db()
    assert news.name == "Renamed"
    # Explicit update_fields naming the counts do not write them either.
    stale.subscriber_count = 99
    stale.description = "Described"
    stale.save(update_fields=["description", "subscriber_count"])
    assert_counts(news, 5, 0)
    assert ClientList.objects.get(pk=news.pk).description == "Described"
    stale.save(update_fields=["unconfirmed_count"])  # nothing to write
    assert_counts(news, 5, 0)


def test_saving_a_list_with_deferred_fields_writes_only_those_loaded(alice, news):
    partial = ClientList.objects.only("name").get(pk=news.pk)
    services.list_members_add(client_list=news, clients=clients(alice, 2))
    ClientList.objects.filter(pk=news.pk).update(description="Kept")
    partial.name = "Partial"
    partial.save()
    news.refresh_from_db()
    assert (news.name, news.description) == ("Partial", "Kept")
    assert_counts(news, 2, 0)


def test_saving_a_stale_list_in_the_admin_keeps_the_counts(alice, login, news):
    url = reverse("admin:audiences_clientlist_change", args=[news.pk])
    http = login(alice)
    assert http.get(url).status_code == 200
    services.list_members_add(client_list=news, clients=clients(alice, 4))
    response = http.post(url, {"name": "Renamed", "description": "x"})
    assert response.status_code == 302
    assert_counts(news, 4, 0)


def test_creating_and_updating_lists_still_works(alice):
    made = ClientList.objects.create(owner=alice, name="Made")
    assert_counts(made, 0, 0)
    ClientList.objects.filter(pk=made.pk).update(name="Updated")
    made.refresh_from_db()
    assert made.name == "Updated"
    # A list whose row was deleted meanwhile is made again by save(), as before.
    fresh = ClientList(owner=alice, name="Fresh")
    fresh.save()
    assert ClientList.objects.filter(pk=fresh.pk, name="Fresh").exists()


# --- the pages -----------------------------------------------------------------------


def test_the_pages_show_a_count_written_behind_the_caches_back(alice, login, news):
    """With django-cachalot on (as in production): the list of lists and the
    list's page show a count the triggers changed, though no ORM write touched
    the lists' table."""
    http = login(alice)
    changelist = reverse("admin:audiences_clientlist_changelist")
    page = reverse("admin:audiences_clientlist_change", args=[news.pk])
    people = clients(alice, 3)
    services.list_members_add(client_list=news, clients=people[:1])
    assert "1 subscribed, 0 unconfirmed" in http.get(page).content.decode()
    http.get(changelist)
    http.get(page)  # both read twice: cached where cachalot may
    imports._subscribe(news, [c.pk for c in people], now=timezone.now())  # raw SQL
    assert "3 subscribed, 0 unconfirmed" in http.get(page).content.decode()
    body = http.get(changelist).content.decode()
    assert _column(body, "subscribers") == ["3"]
    # The row the import's tests read, through the cache too.
    assert ClientList.objects.get(pk=news.pk).subscriber_count == 3


def _column(body: str, name: str) -> list[str]:
    import re

    cells = re.findall(rf'<td class="[^"]*field-{name}[^"]*"[^>]*>(.*?)</td>', body)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_the_list_of_lists_orders_by_the_stored_counts(alice, login):
    ClientListFactory(owner=alice, name="A small")
    ClientListFactory(owner=alice, name="B big", members=clients(alice, 3))
    http = login(alice)
    url = reverse("admin:audiences_clientlist_changelist")
    # o=2: the third column (the checkbox, the name, the subscribers).
    firsts = []
    for order in ("2", "-2"):
        body = http.get(url, {"o": order}).content.decode()
        firsts.append(min(("A small", "B big"), key=body.index))
    assert firsts == ["A small", "B big"]


def _queries(http: Any, url: str) -> int:
    with cachalot_disabled(), CaptureQueriesContext(connection) as queries:
        response = http.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_pages_cost_the_same_queries_with_more_members(alice, login, news):
    http = login(alice)
    changelist = reverse("admin:audiences_clientlist_changelist")
    page = reverse("admin:audiences_clientlist_change", args=[news.pk])
    ClientListFactory(owner=alice, members=clients(alice, 1, "x"))
    services.list_members_add(client_list=news, clients=clients(alice, 1, "y"))
    few = (_queries(http, changelist), _queries(http, page))
    services.list_members_add(client_list=news, clients=clients(alice, 40))
    assert (_queries(http, changelist), _queries(http, page)) == few


def test_the_pages_read_no_subscription_counts(alice, login, news):
    """The counts come from the lists' rows: neither page counts subscriptions."""
    services.list_members_add(client_list=news, clients=clients(alice, 3))
    http = login(alice)
    for url in (
        reverse("admin:audiences_clientlist_changelist"),
        reverse("admin:audiences_clientlist_change", args=[news.pk]),
    ):
        with cachalot_disabled(), CaptureQueriesContext(connection) as queries:
            assert http.get(url).status_code == 200
        counting = [
            q["sql"]
            for q in queries
            if "COUNT(" in q["sql"].upper() and "audiences_subscription" in q["sql"]
        ]
        assert counting == []


class _Editor:
    """What counters asks of a schema editor (SQLite's refuses to open inside a
    test's transaction)."""

    connection = connection

    def execute(self, sql: str, params: Any = None) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def test_uninstall_and_install_again_recounts(alice, news):
    """What the migration's reverse and a later migration's install do."""
    counters.uninstall(_Editor())
    assert counters.installed() == set()
    services.list_members_add(client_list=news, clients=clients(alice, 2))
    assert stored(news) == (0, 0)  # nobody counted them
    counters.install(_Editor())
    assert counters.installed() == set(counters.TRIGGERS)
    assert_counts(news, 2, 0)
    services.list_members_add(client_list=news, clients=clients(alice, 1, "z"))
    assert_counts(news, 3, 0)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="statement-level triggers: PostgreSQL"
)
def test_on_postgresql_a_statement_updates_each_list_once(alice, news, other):
    """An import's INSERT … SELECT of many rows moves its list's row once (the
    transition table summed), not once per subscription."""
    people = clients(alice, 40)

    def list_updates() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                [counters.LISTS],
            )
            return int(cursor.fetchone()[0])

    before = list_updates()
    imports._subscribe(news, [c.pk for c in people], now=timezone.now())
    assert list_updates() == before + 1
    Subscription.objects.filter(client__in=people[:10]).update(client_list=other)
    assert list_updates() == before + 3  # one each for the two lists
    Subscription.objects.filter(client_list=news).update(confirmed_at=timezone.now())
    assert list_updates() == before + 3  # no status moved: no list written
    assert_counts(news, 30, 0)
    assert_counts(other, 10, 0)
