"""A post needs text (issue 15, point 8): the editor's empty paragraphs are refused
with a message by the field, an image alone is content."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.blog.models import Post
from apps.blog.services import post_content_is_empty

pytestmark = pytest.mark.django_db

ADD = reverse("admin:blog_post_add")


def form(content: str) -> dict[str, str]:
    return {
        "title": "Empty?",
        "slug": "",
        "content": content,
        "published_at_0": "2026-01-01",
        "published_at_1": "10:00:00",
    }


@pytest.mark.parametrize(
    "content",
    ["", "<p></p>", "<p>&nbsp;</p>", "<p> <br> </p>\n<p>&#160;</p>", "<h2> </h2>"],
)
def test_a_post_with_empty_content_is_refused_next_to_the_field(editor, login, content):
    response = login(editor).post(ADD, form(content))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "content" in errors
    assert not Post.objects.exists()


def test_a_post_with_words_is_saved(editor, login):
    response = login(editor).post(ADD, form("<p>Hello</p>"))

    assert response.status_code == 302
    assert Post.objects.get().content == "<p>Hello</p>"


@pytest.mark.parametrize(
    ("html", "empty"),
    [
        ('<figure class="image"><img src="/media/a.png"></figure>', False),
        ("<p>&nbsp;x</p>", False),
        ("<table><tr><td> </td></tr></table>", True),
        ("<p>\u200b</p>", True),
    ],
)
def test_what_counts_as_empty(html, empty):
    assert post_content_is_empty(html) is empty
