import re

import pytest

from apps.home.selectors import home_statistics
from apps.mailings.models import Client, Mailing
from tests.factories import ClientFactory, MailingFactory, PostFactory

pytestmark = pytest.mark.django_db

RUNNING, FINISHED = Mailing.Status.RUNNING, Mailing.Status.FINISHED


def stat(body: str, name: str) -> int:
    match = re.search(rf'data-stat="{name}">([\d,]+)<', body)
    assert match, f"no {name} statistic on the page"
    return int(match.group(1))


def post_titles(body: str) -> list[str]:
    return re.findall(r'<h3><a href="/blog/[^"]+/">([^<]+)</a></h3>', body)


@pytest.fixture
def hand_counted(alice, bob):
    """4 mailings, 1 of them active; 3 unique addresses in mailings:
    shared@example.com (alice and bob, different case), only-alice@, bob-only@.
    alice's unused@ is in no mailing and does not count."""
    shared_a = ClientFactory(owner=alice, email="Shared@Example.com")
    only_alice = ClientFactory(owner=alice, email="only-alice@example.com")
    ClientFactory(owner=alice, email="unused@example.com")
    shared_b = ClientFactory(owner=bob, email="shared@example.COM")
    bob_only = ClientFactory(owner=bob, email="bob-only@example.com")
    MailingFactory(owner=alice, clients=[shared_a, only_alice], status=RUNNING)
    MailingFactory(owner=alice, clients=[shared_a], status=RUNNING, is_enabled=False)
    MailingFactory(owner=bob, clients=[shared_b, bob_only])
    MailingFactory(owner=bob, clients=[], status=FINISHED)


def test_home_page_shows_the_hand_counted_numbers(client, hand_counted):
    body = client.get("/").content.decode()
    assert stat(body, "mailings_total") == 4
    assert stat(body, "mailings_active") == 1
    assert stat(body, "clients_unique") == 3


def test_home_page_links_to_registration_and_login(client):
    body = client.get("/").content.decode()
    assert 'href="/accounts/register/"' in body
    assert 'href="/admin/login/"' in body
    assert '<link rel="canonical" href="http://localhost:8000/">' in body
    assert '<meta name="description" content="' in body


def test_home_page_shows_three_random_published_posts_different_on_each_visit(
    client,
):
    for n in range(10):
        PostFactory(title=f"Story {n}")
    PostFactory(title="Draft story", is_published=False)
    picks = set()
    for _ in range(25):
        titles = post_titles(client.get("/").content.decode())
        assert len(titles) == 3
        assert len(set(titles)) == 3
        assert "Draft story" not in titles
        picks.add(frozenset(titles))
    # 120 possible picks: 25 identical ones in a row would mean no randomness.
    assert len(picks) > 1


def test_with_three_posts_or_fewer_all_are_shown(client):
    PostFactory(title="Only one")
    PostFactory(title="Only two")
    assert sorted(post_titles(client.get("/").content.decode())) == [
        "Only one",
        "Only two",
    ]


def test_warm_home_page_makes_no_query(client, hand_counted, django_assert_num_queries):
    PostFactory.create_batch(5)
    client.get("/")
    with django_assert_num_queries(0):
        response = client.get("/")
    assert response.status_code == 200
    assert len(post_titles(response.content.decode())) == 3


def test_statistics_follow_new_mailings_clients_and_membership(client, alice):
    assert home_statistics() == {
        "mailings_total": 0,
        "mailings_active": 0,
        "clients_unique": 0,
    }
    mailing = MailingFactory(owner=alice)
    assert home_statistics()["mailings_total"] == 1

    member = ClientFactory(owner=alice, email="member@example.com")
    mailing.clients.add(member)
    assert home_statistics()["clients_unique"] == 1

    mailing.clients.remove(member)
    assert home_statistics()["clients_unique"] == 0

    mailing.delete()
    assert home_statistics()["mailings_total"] == 0


def test_statistics_follow_bulk_updates_that_send_no_signal(client, hand_counted):
    """The sending engine moves status with queryset.update(): no signal, but
    cachalot records the write and the cached numbers are refused."""
    assert home_statistics()["mailings_active"] == 1
    Mailing.objects.filter(status=Mailing.Status.CREATED).update(status=RUNNING)
    assert home_statistics()["mailings_active"] == 2
    assert stat(client.get("/").content.decode(), "mailings_active") == 2

    Client.objects.filter(email="bob-only@example.com").update(
        email="only-alice@example.com"
    )
    assert home_statistics()["clients_unique"] == 2
