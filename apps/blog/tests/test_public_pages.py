from datetime import timedelta

import pytest
import time_machine
from django.template import loader
from django.utils import timezone

from apps.blog import selectors
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_blog_list_shows_published_posts_newest_first(client):
    old = PostFactory(title="Old news", published_at=timezone.now() - timedelta(days=2))
    new = PostFactory(title="Fresh news")
    body = client.get("/blog/").content.decode()
    assert body.index(new.title) < body.index(old.title)


def test_blog_list_is_paginated(client):
    for n in range(selectors.PAGE_SIZE + 2):
        PostFactory(
            title=f"Item {n:02d}", published_at=timezone.now() - timedelta(hours=n + 1)
        )
    first = client.get("/blog/").content.decode()
    second = client.get("/blog/?page=2").content.decode()
    assert "Item 00" in first and "Item 10" not in first
    assert "Item 10" in second and "Item 00" not in second
    assert 'rel="next" href="?page=2"' in first
    assert '<link rel="canonical" href="http://localhost:8000/blog/?page=2">' in second


@pytest.mark.parametrize("page", ["3", "0", "abc", "-1"])
def test_a_page_that_does_not_exist_is_a_404_not_a_500(client, page):
    PostFactory()
    assert client.get(f"/blog/?page={page}").status_code == 404


def test_an_empty_blog_still_has_a_list_page(client):
    response = client.get("/blog/")
    assert response.status_code == 200
    assert "No posts yet." in response.content.decode()


def test_detail_page_shows_image_date_views_and_sharing_tags(client, media_root):
    post = PostFactory(
        title="Launch day", image="blog/cover.png", content="<p>We launched.</p>"
    )
    body = client.get(post.get_absolute_url()).content.decode()
    assert "<title>Launch day | Mailshot</title>" in body
    assert '<img class="post-image" src="/media/blog/cover.png"' in body
    assert f'datetime="{post.published_at.isoformat()}"' in body
    assert "1 view" in body
    assert '<meta name="description" content="We launched.">' in body
    canonical = "http://localhost:8000/blog/" + post.slug + "/"
    assert f'<link rel="canonical" href="{canonical}">' in body
    assert '<meta property="og:type" content="article">' in body
    assert '<meta property="og:title" content="Launch day">' in body
    assert f'<meta property="og:url" content="{canonical}">' in body
    og_image = "http://localhost:8000/media/blog/cover.png"
    assert f'<meta property="og:image" content="{og_image}">' in body


def test_unpublished_and_future_posts_are_hidden_everywhere(client):
    draft = PostFactory(title="Secret draft", is_published=False)
    future = PostFactory(
        title="Tomorrow's post", published_at=timezone.now() + timedelta(days=1)
    )
    PostFactory(title="Visible post")

    listing = client.get("/blog/").content.decode()
    home = client.get("/").content.decode()
    for hidden in (draft, future):
        assert hidden.title not in listing
        assert hidden.title not in home
        assert client.get(hidden.get_absolute_url()).status_code == 404
    assert "Visible post" in listing


def test_a_scheduled_post_appears_when_its_time_comes_despite_the_cache(client):
    PostFactory(title="Already out")
    soon = timezone.now() + timedelta(minutes=10)
    scheduled = PostFactory(title="Scheduled post", published_at=soon)
    assert "Scheduled post" not in client.get("/blog/").content.decode()
    assert client.get(scheduled.get_absolute_url()).status_code == 404

    with time_machine.travel(soon + timedelta(seconds=5)):
        assert "Scheduled post" in client.get("/blog/").content.decode()
        assert client.get(scheduled.get_absolute_url()).status_code == 200


def test_missing_pages_get_the_friendly_404(client):
    response = client.get("/blog/no-such-post/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    assert 'href="/blog/"' in body


def test_the_500_page_renders_without_a_request():
    html = loader.get_template("500.html").render({})
    assert "Something went wrong" in html
    assert "/static/css/site.css" in html


def test_public_pages_use_local_assets_only(client):
    post = PostFactory()
    for url in ("/", "/blog/", post.get_absolute_url()):
        body = client.get(url).content.decode()
        assert "//cdn" not in body and "googleapis" not in body
        assert 'href="/static/css/site.css"' in body


def test_every_public_page_offers_the_language_switcher(client):
    body = client.get("/blog/").content.decode()
    assert 'action="/i18n/setlang/" method="post"' in body
    assert 'name="csrfmiddlewaretoken"' in body
    assert '<option value="ru" lang="ru">Русский</option>' in body


def test_switching_to_russian_keeps_the_visitor_on_the_page(client):
    client.get("/blog/")
    response = client.post("/i18n/setlang/", {"language": "ru", "next": "/blog/"})
    assert response.status_code == 302
    assert response["Location"] == "/blog/"
    assert '<html lang="ru">' in client.get("/blog/").content.decode()


def test_logged_in_people_get_a_link_to_their_dashboard(alice, login):
    body = login(alice).get("/blog/").content.decode()
    assert 'href="/admin/">Dashboard<' in body
    assert 'href="/admin/login/"' not in body


def test_the_language_follows_the_browser_and_costs_no_query(
    client, django_assert_num_queries
):
    PostFactory()
    client.get("/blog/", HTTP_ACCEPT_LANGUAGE="ru")
    with django_assert_num_queries(0):
        response = client.get("/blog/", HTTP_ACCEPT_LANGUAGE="ru,en;q=0.8")
    body = response.content.decode()
    assert '<html lang="ru">' in body
    assert '<option value="ru" selected lang="ru">' in body


def test_excerpts_and_descriptions_are_plain_text_escaped_once(client):
    post = PostFactory(content="<h2>Tom &amp; Jerry</h2><p>&lt;b&gt; is&nbsp;bold</p>")
    listing = client.get("/blog/").content.decode()
    detail = client.get(post.get_absolute_url()).content.decode()
    assert "Tom &amp; Jerry &lt;b&gt; is bold" in listing
    assert '<meta name="description" content="Tom &amp; Jerry &lt;b&gt; is bold">' in (
        detail
    )
