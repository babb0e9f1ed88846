"""The editor's dashboard (issue 15, point 8): "Write a post", the drafts and the
most-read posts — for people who write posts only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import PostFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def test_an_editor_sees_write_a_post_drafts_and_the_most_read(
    editor, login, django_assert_max_num_queries
):
    PostFactory(title="Draft one", is_published=False)
    PostFactory(title="Due tomorrow", published_at=timezone.now() + timedelta(days=1))
    PostFactory(title="Popular", views_count=90)
    PostFactory(title="Less read", views_count=10)
    PostFactory(title="Unread", views_count=0)
    http = login(editor)
    http.get(INDEX)

    with django_assert_max_num_queries(12):
        body = http.get(INDEX).content.decode()

    assert reverse("admin:blog_post_add") in body and "Write a post" in body
    drafts = body.split('data-dashboard="drafts"')[1].split("</ul>")[0]
    assert "Draft one" in drafts and "Due tomorrow" in drafts
    assert "Popular" not in drafts
    most_read = body.split('data-dashboard="most-read"')[1].split("</ol>")[0]
    assert most_read.index("Popular") < most_read.index("Less read")
    assert "Unread" not in most_read and "Draft one" not in most_read


@pytest.mark.parametrize("persona", ["alice", "manager"])
def test_people_who_do_not_write_posts_get_no_blog_panel(persona, request, login):
    PostFactory(title="Draft one", is_published=False)
    body = login(request.getfixturevalue(persona)).get(INDEX).content.decode()

    assert "Write a post" not in body
    assert "Draft one" not in body
