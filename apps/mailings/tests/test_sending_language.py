"""A mailing written in Russian arrives Russian from top to footer, and its
unsubscribe page and one-click confirmation speak Russian and name the sender —
whatever language the visitor's browser asks for."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client as HttpClient
from django.utils import timezone, translation

from apps.content import footers
from apps.content.models import FooterText, SenderIdentity
from apps.mailings import sending
from apps.mailings.models import Client, Mailing, Message

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.smtp]

RU_FOOTER = (
    "Вы получили это письмо от {{ sender_name }}, потому что подписались на "
    "рассылку. Отписаться: {{ unsubscribe_url }}"
)


@pytest.fixture
def russian_mailing(make_mailing, alice, settings):
    settings.MAILSHOT_SENDER_DOMAINS = ["shop.example"]
    identity = SenderIdentity.objects.create(
        owner=alice,
        from_name="Магазин Алисы",
        from_email="news@shop.example",
        verified_at=timezone.now(),
    )
    mailing = make_mailing(1)
    Message.objects.filter(pk=mailing.message_id).update(
        language="ru",
        subject="Новости для {{ first_name }}",
        body="Здравствуйте, {{ full_name }}! Весенняя распродажа.",
    )
    Mailing.objects.filter(pk=mailing.pk).update(sender=identity)
    mailing.refresh_from_db()
    return mailing


def received_text(sink) -> str:
    [received] = sink.messages
    return received.message.get_body(preferencelist=("plain",)).get_content()


def unsubscribe_path(sink) -> str:
    link = sink.messages[0].message["List-Unsubscribe"].strip("<>")
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_the_owners_russian_footer_names_the_sender_under_a_russian_message(
    sink, russian_mailing, alice
):
    FooterText.objects.create(owner=alice, language="ru", text=RU_FOOTER)

    sending.run_due_mailing(russian_mailing.pk)

    message = sink.messages[0].message
    assert str(message["Subject"]) == "Новости для R"
    assert message["From"].addresses[0].display_name == "Магазин Алисы"
    text = received_text(sink)
    assert text.startswith("Здравствуйте, R 0! Весенняя распродажа.")
    assert "Вы получили это письмо от Магазин Алисы, потому что" in text
    assert "You receive" not in text
    assert "Отписаться: https://mailshot.example/unsubscribe/" in text


def test_without_a_footer_of_their_own_the_default_one_in_russian_is_used(
    sink, russian_mailing
):
    sending.run_due_mailing(russian_mailing.pk)

    with translation.override("ru"):
        expected = str(footers.DEFAULT_TEXT).split("{{ sender_name }}")[0]
    text = received_text(sink)
    assert expected in text and "Магазин Алисы" in text


def test_the_unsubscribe_page_and_the_one_click_answer_speak_the_messages_language(
    sink, russian_mailing
):
    sending.run_due_mailing(russian_mailing.pk)
    path = unsubscribe_path(sink)
    assert "?m=" in path
    visitor = HttpClient(HTTP_ACCEPT_LANGUAGE="en")  # an English browser

    page = visitor.get(path)
    done = HttpClient(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en").post(path)

    for response in (page, done):
        body = response.content.decode()
        assert response.status_code == 200
        assert '<html lang="ru">' in body
        assert response["Content-Language"] == "ru"
        assert "Магазин Алисы" in body
    assert "Отписаться" in page.content.decode()
    assert "Вы отписались" in done.content.decode()
    assert Client.objects.get().is_unsubscribed


def test_the_form_on_the_page_posts_back_to_the_same_link(sink, russian_mailing):
    sending.run_due_mailing(russian_mailing.pk)
    path = unsubscribe_path(sink)

    page = HttpClient().get(path).content.decode()

    assert f'action="{path}"' in page


def test_a_forged_or_foreign_mailing_in_the_link_is_ignored(
    sink, russian_mailing, make_mailing, bob
):
    sending.run_due_mailing(russian_mailing.pk)
    path = unsubscribe_path(sink)
    bare = path.split("?")[0]
    bobs = make_mailing(1, owner=bob)
    # Bob's mailing, correctly signed, but the recipient is Alice's client.
    foreign = f"{bare}?m={footers.mailing_reference(bobs.pk)}"
    forged = f"{bare}?m={russian_mailing.pk}-000000000000"

    for url in (foreign, forged, f"{bare}?m=9" + "9" * 30 + "-abc", bare):
        response = HttpClient(HTTP_ACCEPT_LANGUAGE="en").get(url)
        assert response.status_code == 200
        assert '<html lang="en">' in response.content.decode()
        assert "Магазин Алисы" in response.content.decode()  # the owner's default
