"""Guards no other test would miss if they broke (hand-made mutations, see
docs/guards.md): a layout is changed and deleted by its owner only; a script is
dropped with its content."""

import pytest
from django.urls import reverse

from apps.content.models import Layout
from apps.content.sanitize import layout_html_sanitize, message_html_sanitize
from apps.content.tests.test_message_and_layout_admin import LAYOUT_HTML, make_layout

pytestmark = pytest.mark.django_db


def test_a_manager_and_another_owner_neither_change_nor_delete_a_layout(
    login, alice, bob, manager
):
    layout = make_layout(alice, "Alice frame")
    layout.refresh_from_db()
    html = layout.html
    change = reverse("admin:content_layout_change", args=[layout.pk])
    delete = reverse("admin:content_layout_delete", args=[layout.pk])
    hijack = {"name": "Hijacked", "html": LAYOUT_HTML.replace("<div>", "<div>x")}

    for person in (manager, bob):
        http = login(person)
        http.post(change, hijack)
        http.post(delete, {"post": "yes"})

    layout.refresh_from_db()
    assert layout.name == "Alice frame" and layout.html == html

    # The manager looks only: the page has no save button.
    page = login(manager).get(change).content.decode()
    assert 'name="_save"' not in page


def test_the_owner_changes_her_layout(login, alice):
    layout = make_layout(alice, "Alice frame")
    login(alice).post(
        reverse("admin:content_layout_change", args=[layout.pk]),
        {"name": "Renamed", "html": LAYOUT_HTML},
    )
    assert Layout.objects.get(pk=layout.pk).name == "Renamed"


# --- the sanitiser drops a script with its content ---------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<noscript>alert(1)</noscript>",
        "<iframe>alert(1)</iframe>",
        "<svg><script>alert(1)</script></svg>",
    ],
)
def test_a_script_goes_with_its_content_not_left_as_text(payload):
    # Unwrapped, the code would be shown to every recipient as the mail's text.
    html = f"<p>Hello</p>{payload}"

    for cleaned in (message_html_sanitize(html), layout_html_sanitize(html)):
        assert "alert" not in cleaned, cleaned
        assert "Hello" in cleaned
