"""Guards no other test would miss if they broke (hand-made mutations, see
docs/guards.md): the blog part of the admin dashboard is for people who write
posts. It is guarded twice (the dashboard's figures, then the panel's tag); each
guard alone kept the other tests green."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from apps.blog.services import post_content_sanitize
from apps.blog.templatetags.blog_dashboard import editor_dashboard
from apps.home.selectors import dashboard_statistics
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", ["alice", "manager"])
def test_no_blog_figures_on_the_dashboard_of_people_who_do_not_write_posts(
    persona, request, login
):
    PostFactory(title="Draft one", is_published=False)
    user = request.getfixturevalue(persona)

    body = login(user).get(reverse("admin:index")).content.decode()

    assert "posts" not in dashboard_statistics(user=user)
    assert 'data-dashboard="blog"' not in body
    assert 'data-kpi="posts_total"' not in body


@pytest.mark.parametrize(
    ("persona", "shown"), [("alice", False), ("manager", False), ("editor", True)]
)
def test_the_blog_panel_tag_answers_editors_only(persona, shown, request):
    PostFactory(title="Draft one", is_published=False)
    http_request = RequestFactory().get("/admin/")
    http_request.user = request.getfixturevalue(persona)

    panel = editor_dashboard({"request": http_request})

    assert (panel is not None) is shown


# --- the post sanitiser drops a script with its content ----------------------------


@pytest.mark.parametrize(
    "payload",
    ["<script>alert(1)</script>", "<svg><script>alert(1)</script></svg>"],
)
def test_a_posts_script_goes_with_its_content_not_left_as_text(payload):
    cleaned = post_content_sanitize(f"<p>Hello</p>{payload}")

    assert "alert" not in cleaned and "Hello" in cleaned
