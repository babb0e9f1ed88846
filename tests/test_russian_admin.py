"""Every admin page of every role, rendered in Russian, holds no English word outside
the data (issue 15, point 6).

Pages: the dashboard, and for each registered model the person may see, its
changelist, add page, change page and delete confirmation of one object. The data
is Russian too, so what remains in Latin letters is either an address or an
untranslated string of ours, Django's, Unfold's or a library's.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.mailings.models import Attempt, Delivery
from tests.factories import (
    ClientFactory,
    MailingFactory,
    MessageFactory,
    PostFactory,
)

pytestmark = pytest.mark.django_db

# Words in Latin letters that are Russian usage too: names, formats and protocols.
ALLOWED = {
    "mailshot", "csv", "xlsx", "json", "smtp", "html", "url", "id", "utc", "ok",
    "api", "reply-to",  # technical names Russian keeps in Latin letters
    "message-id", "e-mail", "email", "ckeditor", "django", "unfold",
    "english",  # the language picker names each language in itself
    # Kept in Latin letters by Django's own Russian catalogue.
    "control", "command", "mac", "single", "sign-on", "sing-on", "ldap", "cron",
}  # fmt: skip
# Text the eye does not read as words: addresses, links, file names, paths.
NOT_WORDS = re.compile(
    r"\S+@\S+|https?://\S+|/\S*"
    # code: dotted paths, snake_case and kebab-case names, template placeholders
    r"|\{\{[^}]*\}\}|\w+(?:[._]\w+)+|[a-z]+(?:-[a-z]+){2,}"
    # masked values (a password hash's salt: "dbeb******")
    r"|\S*\*\S*"
)
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z’'-]{2,}")
# Superuser-only pages of libraries whose object names and some labels are English in
# the library's code (axes: "Access Log for …"; django-q2: task names, help texts):
# nothing of ours can translate them. Their menu entries are still checked.
LIBRARY_APPS = {"axes", "django_q"}
VISIBLE_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt"}
# <bdi> holds values shown as they are (the password hash summary), <code> literal
# names (the columns an import file must have).
SKIPPED_TAGS = {
    "script",
    "style",
    "template",
    "textarea",
    "noscript",
    "kbd",
    "bdi",
    "code",
}
# Icon ligatures: the font draws "arrow_downward" as an arrow, nobody reads it.
ICON_CLASSES = ("material-symbols-outlined", "material-symbols")
VOID_TAGS = {"input", "img", "br", "hr", "meta", "link", "source", "wbr", "area"}


class _Text(HTMLParser):
    """The text a reader sees: text nodes, titles, placeholders, button labels."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[bool] = []  # per open element: whether its text is skipped

    @property
    def skipping(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag not in VOID_TAGS:
            classes = (attributes.get("class") or "").split()
            self.stack.append(
                tag in SKIPPED_TAGS or any(c in ICON_CLASSES for c in classes)
            )
        if self.skipping:
            return
        for name in VISIBLE_ATTRIBUTES:
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") in {"submit", "button"}:
            self.parts.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag not in VOID_TAGS and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def english_words(html: str) -> set[str]:
    parser = _Text()
    parser.feed(html)
    text = NOT_WORDS.sub(" ", " ".join(parser.parts))
    return {
        word
        for word in LATIN_WORD.findall(text)
        if word.lower().strip("’'-") not in ALLOWED
    }


@pytest.fixture
def world(alice, manager, editor, superuser):
    """Russian data of every kind, owned by alice (and a post by the editor)."""
    for number, person in enumerate([alice, manager, editor, superuser]):
        person.first_name, person.last_name = "Анна", f"Иванова {number}"
        person.save(update_fields=["first_name", "last_name"])
    client = ClientFactory(
        owner=alice, email="ivan@example.org", full_name="Иван Петров"
    )
    message = MessageFactory(owner=alice, subject="Новости", body="Привет,\nмир")
    mailing = MailingFactory(owner=alice, message=message, clients=[client])
    attempt = Attempt.objects.create(
        mailing=mailing,
        attempted_at=timezone.now() - timedelta(hours=1),
        finished_at=timezone.now(),
        status=Attempt.Status.SUCCESS,
        total_count=1,
        sent_count=1,
    )
    Delivery.objects.create(
        attempt=attempt,
        client=client,
        email=client.email,
        outcome=Delivery.Outcome.SENT,
        processed_at=timezone.now(),
    )
    PostFactory(title="Заметка", slug="zametka", content="<p>Текст</p>", author=editor)
    return {"alice": alice, "manager": manager, "editor": editor, "root": superuser}


def admin_pages(user) -> list[str]:
    """The admin URLs this person may open: index, and per model the list, the add
    form, and one object's change and delete pages."""
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in LIBRARY_APPS:
            continue
        if not model_admin.has_view_permission(request):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        try:
            urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        except NoReverseMatch:
            continue
        if model_admin.has_add_permission(request):
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        for page in ("export", "import"):
            allowed = getattr(model_admin, f"has_{page}_permission", None)
            if allowed is not None and allowed(request):
                urls.append(reverse("admin:{}_{}_{}".format(*info, page)))
        obj = model_admin.get_queryset(request).order_by("pk").first()
        if obj is None:
            continue
        if model_admin.has_view_permission(request, obj):
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
            urls.append(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
        if model_admin.has_delete_permission(request, obj):
            urls.append(reverse("admin:{}_{}_delete".format(*info), args=[obj.pk]))
    return urls


@pytest.mark.parametrize("role", ["alice", "manager", "editor", "root"])
def test_every_admin_page_of_every_role_reads_russian(world, login, role):
    http = login(world[role])
    http.cookies["django_language"] = "ru"
    found: dict[str, set[str]] = {}
    pages = admin_pages(world[role])
    assert len(pages) > 3
    for url in pages:
        response = http.get(url, HTTP_ACCEPT_LANGUAGE="ru")
        assert response.status_code == 200, url
        words = english_words(response.content.decode())
        if words:
            found[url] = words
    assert not found, "English words in the Russian admin:\n" + "\n".join(
        f"{url}: {', '.join(sorted(words))}" for url, words in found.items()
    )


def test_the_export_page_names_the_columns_as_the_model_does(alice, login):
    http = login(alice)
    http.cookies["django_language"] = "ru"

    body = http.get(
        reverse("admin:mailings_client_export"), HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()

    assert "full_name" not in body and "is_unsubscribed" not in body
    assert "Отписан" in body
