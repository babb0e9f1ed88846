"""View counting and the blog's cache: warm pages make no query but the count."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from apps.blog.models import Post
from apps.blog.services import post_register_view
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_each_detail_view_adds_one_view_also_when_the_page_comes_from_cache(client):
    post = PostFactory()
    for expected in (1, 2, 3):
        response = client.get(post.get_absolute_url())
        assert f'data-views="{expected}"' in response.content.decode()
    post.refresh_from_db()
    assert post.views_count == 3


def test_the_list_and_home_page_do_not_count_views(client):
    post = PostFactory()
    client.get("/blog/")
    client.get("/")
    post.refresh_from_db()
    assert post.views_count == 0


def test_hidden_posts_are_not_counted():
    post = PostFactory(is_published=False)
    assert post_register_view(post_id=post.pk) is None
    post.refresh_from_db()
    assert post.views_count == 0


def test_a_post_hidden_behind_the_caches_back_is_a_404(client):
    post = PostFactory()
    client.get(post.get_absolute_url())  # now cached
    # A write that sends no signal (no cache invalidation):
    Post.objects.filter(pk=post.pk).update(is_published=False)
    assert client.get(post.get_absolute_url()).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_views_are_all_counted():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite in-memory test database is not shared between threads")
    post = PostFactory()

    def view(_):
        try:
            return post_register_view(post_id=post.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(view, range(40)))
    post.refresh_from_db()
    assert post.views_count == 40
    assert sorted(counts) == list(range(1, 41))


def test_warm_blog_list_makes_no_query(client, django_assert_num_queries):
    PostFactory.create_batch(3)
    client.get("/blog/")
    with django_assert_num_queries(0):
        response = client.get("/blog/")
    assert response.status_code == 200


def test_warm_detail_page_makes_only_the_view_count_update(
    client, django_assert_num_queries
):
    post = PostFactory()
    client.get(post.get_absolute_url())
    with django_assert_num_queries(1) as captured:
        client.get(post.get_absolute_url())
    assert captured.captured_queries[0]["sql"].upper().startswith("UPDATE")


def test_saving_a_post_refreshes_the_cached_list_and_detail(client):
    post = PostFactory(title="First title", content="<p>First body</p>")
    client.get("/blog/")
    client.get(post.get_absolute_url())

    post.title = "Second title"
    post.content = "<p>Second body</p>"
    post.save()

    assert "Second title" in client.get("/blog/").content.decode()
    assert "Second body" in client.get(post.get_absolute_url()).content.decode()


def test_unpublishing_or_deleting_a_post_removes_it_from_every_page(client):
    unpublished, deleted = PostFactory(title="Goes away"), PostFactory(title="Deleted")
    for url in ("/", "/blog/", unpublished.get_absolute_url()):
        client.get(url)

    unpublished.is_published = False
    unpublished.save()
    deleted_url = deleted.get_absolute_url()
    deleted.delete()

    for url in ("/", "/blog/"):
        body = client.get(url).content.decode()
        assert "Goes away" not in body and "Deleted" not in body
    assert client.get(unpublished.get_absolute_url()).status_code == 404
    assert client.get(deleted_url).status_code == 404


def test_a_new_post_shows_at_once(client):
    PostFactory(title="Older")
    client.get("/blog/")
    PostFactory(title="Brand new")
    assert "Brand new" in client.get("/blog/").content.decode()


def test_the_cached_pages_are_the_same_for_every_visitor_but_the_csrf_token(client):
    from django.test import Client

    PostFactory()
    other = Client()
    first = client.get("/blog/")
    second = other.get("/blog/")
    assert first.cookies["csrftoken"].value != second.cookies["csrftoken"].value


def test_a_head_request_answers_without_counting_a_view(client):
    post = PostFactory()
    assert client.head(post.get_absolute_url()).status_code == 200
    assert client.head("/blog/").status_code == 200
    assert client.head("/").status_code == 200
    post.refresh_from_db()
    assert post.views_count == 0
