"""A change made by another process (the cluster, a command) shows at once.

Both processes share the database and the cache (see the ``other_process`` fixture
in conftest.py for how, on SQLite and PostgreSQL); nothing is reloaded in this one.
"""

import re

import pytest

from apps.mailings.models import Mailing
from tests.factories import ClientFactory, MailingFactory, PostFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def groups(transactional_db):
    """An earlier transactional test may have flushed the groups made by the data
    migration (a flush recreates permissions, not groups): make them again.
    ``serialized_rollback`` is no way out: after such a flush the content types have
    new ids and reloading the serialised ones fails on their unique constraint."""
    from apps.users.signals import create_groups

    create_groups()


def stat(body: str, name: str) -> int:
    match = re.search(rf'data-stat="{name}">([\d,]+)<', body)
    assert match, f"no {name} statistic on the page"
    return int(match.group(1))


def test_mailing_changes_by_another_process_show_on_the_home_page_at_once(
    client, alice, other_process
):
    mailing = MailingFactory(owner=alice, clients=[ClientFactory(owner=alice)])
    body = client.get("/").content.decode()
    assert stat(body, "mailings_total") == 1
    assert stat(body, "mailings_active") == 0
    client.get("/")  # warm

    other_process(
        "from apps.mailings.models import Mailing\n"
        "from apps.users.models import User\n"
        "from tests.factories import MailingFactory\n"
        # What the sending engine does: a bulk UPDATE, which sends no signal.
        f"Mailing.objects.filter(pk={mailing.pk}).update(status='running')\n"
        # An ordinary save, which does.
        "MailingFactory(owner=User.objects.get(email='alice@example.com'))\n"
    )

    assert Mailing.objects.get(pk=mailing.pk).status == Mailing.Status.RUNNING
    body = client.get("/").content.decode()
    assert stat(body, "mailings_active") == 1
    assert stat(body, "mailings_total") == 2


def test_a_post_published_by_another_process_shows_in_the_blog_at_once(
    client, other_process
):
    post = PostFactory(title="Waiting in drafts", is_published=False)
    assert "Waiting in drafts" not in client.get("/blog/").content.decode()
    assert client.get(post.get_absolute_url()).status_code == 404

    other_process(
        "from apps.blog.models import Post; "
        f"post = Post.objects.get(pk={post.pk}); "
        "post.is_published = True; post.save()"
    )

    assert "Waiting in drafts" in client.get("/blog/").content.decode()
    assert "Waiting in drafts" in client.get("/").content.decode()
    assert client.get(post.get_absolute_url()).status_code == 200
