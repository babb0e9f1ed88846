"""The Russian translation: complete, compiled, and what a Russian speaker sees.

Pages are fetched with ``Accept-Language: ru`` and their visible text (and the
placeholder, title, aria-label and alt texts) is searched for Latin words. Only brand
names, language names in their own language, keyboard keys and technical terms may
stay; the test data itself is Russian so that it does not count.
"""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client as HttpClient
from django.urls import reverse

from apps.users import roles
from tests.factories import (
    ClientFactory,
    MailingFactory,
    MessageFactory,
    PostFactory,
    UserFactory,
)

PO = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"
RU = {"HTTP_ACCEPT_LANGUAGE": "ru"}

# Latin words a Russian page may show: names of products and languages (in their own
# language, in the switcher), language codes, keyboard keys, technical terms.
ALLOWED = {
    "Mailshot",
    "English",
    "en",
    "ru",
    "esc",
    "Django",
    "Q2",
    "Cron",
    "UTC",
    "ID",
    "IP",
    "Message-ID",
    "CKEditor",
    "JPEG",
    "PNG",
    "GIF",
    "WebP",
    "CSV",
    "XLSX",
    "csv",
    "xlsx",
    "Unfold",
    # Technical names Russian keeps in Latin letters.
    "API",
    "HTML",
    "Reply-To",
    # Kept in Latin letters by Django's own Russian catalogue (multiple selects).
    "Control",
    "Command",
    "Mac",
}
# The columns of the client import file are names, not words.
CSV_COLUMNS = {"email", "full", "name", "comment"}
# Words Unfold or Django show in English unless our catalogue translates them.
ENGLISH_UI = [
    "Dashboard",
    "Search",
    "Filters",
    "Return to site",
    "Welcome back to",
    "Log out",
    "Log in",
    "Save",
    "Add ",
    "Select",
    "Light",
    "Dark",
    "System",
    "Previous",
    "Next",
    "No results found",
    "Type to search",
]


class VisibleText(HTMLParser):
    HIDDEN = {"script", "style", "template"}
    ATTRIBUTES = {"placeholder", "title", "aria-label", "alt"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1
        attrs = dict(attrs)
        self.parts += [v for k, v in attrs.items() if k in self.ATTRIBUTES and v]
        if tag == "input" and attrs.get("type") in {"submit", "button"}:
            self.parts.append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    # Icon ligatures (<span class="material-symbols-outlined">mail</span>) are glyphs.
    html = re.sub(r"<span[^>]*material-symbols[^>]*>[^<]*</span>", " ", html)
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def english_words(html: str) -> set[str]:
    text = visible_text(html)
    # Addresses, links and placeholders ({{ attr.NAME|default:"…" }} included).
    text = re.sub(r"\S+@\S+|https?://\S+|\{\{[^}]*\}\}", " ", text)
    return set(re.findall(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]", text)) - ALLOWED


def get_ru(http, url: str, status: int = 200) -> str:
    response = http.get(url, **RU)
    assert response.status_code == status, url
    return response.content.decode()


@pytest.fixture
def russian_data(db, superuser):
    """Objects with Russian names, so that only the interface can be English."""
    superuser.first_name, superuser.last_name = "Анна", "Иванова"
    superuser.save()
    owner = UserFactory(email="ivan@example.com", first_name="Иван", last_name="Петров")
    client = ClientFactory(owner=owner, full_name="Мария Смирнова")
    message = MessageFactory(owner=owner, subject="Новости", body="Здравствуйте!")
    mailing = MailingFactory(owner=owner, message=message, clients=[client])
    post = PostFactory(title="Первая статья", slug="pervaya", content="<p>Привет.</p>")
    return {"mailing": mailing, "client": client, "message": message, "post": post}


# --- The catalogue ---


@pytest.fixture
def msgfmt():
    binary = shutil.which("msgfmt")
    if not binary:
        pytest.skip("gettext's msgfmt is not installed")
    return binary


def test_catalogue_has_no_untranslated_or_fuzzy_entry(msgfmt):
    result = subprocess.run(  # noqa: S603
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(PO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"\d+ translated messages\.\n", result.stderr), result.stderr


def test_compiled_catalogue_is_current(msgfmt, tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run([msgfmt, "-o", str(compiled), str(PO)], check=True)  # noqa: S603
    assert compiled.read_bytes() == PO.with_suffix(".mo").read_bytes(), (
        "locale/ru/LC_MESSAGES/django.mo is stale: run `make messages`"
    )


def test_plural_forms_are_djangos():
    header = PO.read_text(encoding="utf-8").split("\n\n")[0]
    assert '"Language: ru\\n"' in header
    assert "nplurals=4;" in header
    assert "#, fuzzy" not in header


# --- What a Russian speaker sees ---


def test_admin_login_page_is_russian(db):
    html = get_ru(HttpClient(), reverse("admin:login"))
    assert "С возвращением в" in html
    assert "Войти" in html
    assert english_words(html) == set()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/mailings/mailing/",
        "/admin/mailings/mailing/add/",
        "/admin/mailings/client/",
        "/admin/mailings/client/add/",
        "/admin/mailings/message/",
        "/admin/mailings/message/add/",
        "/admin/mailings/attempt/",
        "/admin/blog/post/",
        "/admin/blog/post/add/",
        "/admin/password_change/",
    ],
)
def test_admin_pages_have_no_english(login, superuser, russian_data, url):
    html = get_ru(login(superuser), url)
    assert english_words(html) == set(), url
    text = visible_text(html)
    for word in ENGLISH_UI:
        assert word not in text, (url, word)


def test_admin_labels_and_titles(login, superuser, russian_data):
    http = login(superuser)
    index = visible_text(get_ru(http, "/admin/"))
    for label in ["Обзор", "Рассылки", "Клиенты", "Сообщения", "Попытки", "Статьи"]:
        assert label in index
    changelist = visible_text(get_ru(http, "/admin/mailings/mailing/"))
    assert "Выбор для изменения: рассылка" in changelist
    assert "Новости" in changelist
    add = visible_text(get_ru(http, "/admin/mailings/mailing/add/"))
    assert "Новая рассылка" in add
    assert "Периодичность" in add
    change = visible_text(
        get_ru(http, f"/admin/mailings/mailing/{russian_data['mailing'].pk}/change/")
    )
    assert "Изменение: рассылка" in change


def renamed(user, first_name: str):
    """The factories pick English first names; the header shows them."""
    user.first_name = first_name
    user.save(update_fields=["first_name"])
    return user


def test_dashboards_of_each_role(login, editor, manager, russian_data):
    renamed(editor, "Елена")
    renamed(manager, "Борис")
    newcomer = UserFactory(
        email="oleg@example.com", first_name="Олег", group=roles.USERS
    )
    steps = visible_text(get_ru(login(newcomer), "/admin/"))
    assert "Первая рассылка за три шага" in steps
    for user in (newcomer, manager, editor):
        html = get_ru(login(user), "/admin/")
        assert english_words(html) == set(), user.email


def test_client_import_page(login, alice):
    html = get_ru(login(renamed(alice, "Алиса")), "/admin/mailings/client/import/")
    assert "Импорт клиентов" in visible_text(html)
    assert english_words(html) - CSV_COLUMNS == set()


def test_editor_headings_follow_the_language(login, superuser, russian_data):
    html = get_ru(login(superuser), "/admin/blog/post/add/")
    # The editor's configuration is JSON, with non-ASCII characters escaped.
    assert json.dumps("Заголовок 2") in html and json.dumps("Абзац") in html
    assert "Heading 2" not in html


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/blog/",
        "/blog/pervaya/",
        "/accounts/register/",
        "/accounts/password-reset/",
    ],
)
def test_public_pages_have_no_english(russian_data, url):
    html = get_ru(HttpClient(), url)
    assert '<html lang="ru"' in html
    assert english_words(html) == set(), url


def test_public_labels(russian_data):
    home = visible_text(get_ru(HttpClient(), "/"))
    for label in ["Mailshot в цифрах", "всего рассылок", "Создать аккаунт", "Войти"]:
        assert label in home
    blog = visible_text(get_ru(HttpClient(), "/blog/"))
    assert "Блог" in blog and "Первая статья" in blog


def test_not_found_page_is_russian(db):
    html = get_ru(HttpClient(), "/no-such-page/", status=404)
    assert "Страница не найдена" in html
    assert english_words(html) == set()


def test_confirmation_email_is_russian(
    db, smtp_sink, django_capture_on_commit_callbacks
):
    cache.clear()  # account mail is limited per address and minute
    with django_capture_on_commit_callbacks(execute=True):
        response = HttpClient().post(
            reverse("users:register"),
            {
                "email": "olga@example.com",
                "first_name": "Ольга",
                "password1": "Plum-orchard-47-lanterns",
                "password2": "Plum-orchard-47-lanterns",
            },
            **RU,
        )
    assert response.status_code == 302
    [received] = smtp_sink.messages
    subject = str(received.message["Subject"]).strip()  # a folded encoded header
    assert subject == "Подтвердите адрес эл. почты для Mailshot"
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert "Здравствуйте" in text
    assert english_words(html) == set()
    assert english_words(text) == set()


# --- Choosing the language ---


def test_language_follows_the_browser(db):
    assert '<html lang="ru"' in HttpClient().get("/", **RU).content.decode()
    english = HttpClient().get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english
    assert "Mailshot in numbers" in english


def test_site_switcher(db):
    http = HttpClient()
    html = http.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert 'value="ru"' in html and "Русский" in html
    response = http.post(reverse("set_language"), {"language": "ru", "next": "/"})
    assert response.status_code == 302
    html = http.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Mailshot в цифрах" in html


def test_admin_switcher(login, superuser):
    http = login(superuser)
    html = http.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert "Dashboard" in visible_text(html)
    response = http.post(reverse("set_language"), {"language": "ru", "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    html = http.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Обзор" in visible_text(html)
    http.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    html = http.get("/admin/", **RU).content.decode()
    assert "Dashboard" in visible_text(html)
