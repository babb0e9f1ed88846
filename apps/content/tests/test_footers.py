"""The footer: the owner's own per language or the default one, always naming the
sender and keeping the unsubscribe link; validated when the owner edits it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from apps.content import footers
from apps.content.forms import FooterTextForm
from apps.content.models import FooterText

pytestmark = pytest.mark.django_db

RU_FOOTER = (
    "Вы получили это письмо от {{ sender_name }}. Отписаться: {{ unsubscribe_url }}"
)


def test_the_default_footer_names_the_sender_and_keeps_the_link(alice):
    text, html = footers.footer_for(alice, "en", "Alice's Shop")

    assert text.startswith("-- \n")
    assert "Alice's Shop" in text and text.count("{{ unsubscribe_url }}") == 1
    assert "Alice&#x27;s Shop" in html
    assert 'href="{{ unsubscribe_url }}"' in html
    assert html.startswith('<div class="mailshot-footer">')


def test_the_owners_own_footer_in_the_messages_language_is_used(alice, bob):
    FooterText.objects.create(owner=alice, language="ru", text=RU_FOOTER)

    russian, _ = footers.footer_for(alice, "ru", "Алиса")
    english, _ = footers.footer_for(alice, "en", "Алиса")
    bobs, _ = footers.footer_for(bob, "ru", "Bob")

    assert russian == (
        "-- \nВы получили это письмо от Алиса. Отписаться: {{ unsubscribe_url }}"
    )
    assert english == "-- \n" + footers.default_text("en").replace(
        "{{ sender_name }}", "Алиса"
    )
    assert bobs == "-- \n" + footers.default_text("ru").replace(
        "{{ sender_name }}", "Bob"
    )


def test_the_default_footer_is_rendered_in_the_asked_language_not_the_active_one(
    alice,
):
    with translation.override("en"):
        text, _ = footers.footer_for(alice, "ru", "Shop")
    with translation.override("ru"):
        expected = str(footers.DEFAULT_TEXT)
    assert text == "-- \n" + expected.replace("{{ sender_name }}", "Shop")


def test_placeholders_typed_with_other_spacing_are_kept_for_composing(alice):
    FooterText.objects.create(
        owner=alice, language="en", text="From {{sender_name}}: {{unsubscribe_url}}"
    )

    text, html = footers.footer_for(alice, "en", "Shop")

    assert text == "-- \nFrom Shop: {{ unsubscribe_url }}"
    assert 'href="{{ unsubscribe_url }}"' in html


def test_html_in_a_footer_or_a_sender_name_is_shown_as_text(alice):
    FooterText.objects.create(
        owner=alice,
        language="en",
        text="<script>alert(1)</script> {{ sender_name }}\n\n{{ unsubscribe_url }}",
    )

    _, html = footers.footer_for(alice, "en", '<img src=x onerror="alert(1)">')

    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html
    assert html.count("<p ") == 2  # a blank line starts a paragraph


def test_an_unknown_language_falls_back_to_english(alice):
    assert footers.footer_for(alice, "de", "Shop") == footers.footer_for(
        alice, "en", "Shop"
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Goodbye from {{ sender_name }}.", "unsubscribe"),
        ("Leave: {{ unsubscribe_link }}", "placeholder"),
        ("{% if x %}{{ unsubscribe_url }}{% endif %}", "placeholder"),
        ("{{ unsubscribe_url }} {# note #}", "placeholder"),
        ("{{ unsubscribe_url }} {{ full_name }}", "placeholder"),
        ("{{ unsubscribe_url|safe }}", "placeholder"),
        ("{{ unsubscribe_url }} " + "x" * footers.MAX_LENGTH, "max_length"),
    ],
)
def test_a_footer_without_the_link_or_with_other_template_syntax_is_refused(text, code):
    with pytest.raises(ValidationError) as error:
        footers.validate_footer_text(text)

    assert code in {e.code for e in error.value.error_list}


def test_the_error_lists_the_valid_placeholders():
    with pytest.raises(ValidationError) as error:
        footers.validate_footer_text("{{ nope }} {{ unsubscribe_url }}")

    [message] = error.value.messages
    assert "{{ nope }}" in message
    assert "{{ unsubscribe_url }}" in message and "{{ sender_name }}" in message


def test_the_form_starts_from_the_default_text_and_refuses_a_second_footer_per_language(
    alice,
):
    FooterText.objects.create(owner=alice, language="ru", text=RU_FOOTER)
    with translation.override("en"):
        blank = FooterTextForm(owner=alice)
    assert blank.initial["text"] == footers.default_text("en")

    form = FooterTextForm(
        {"language": "ru", "text": "{{ unsubscribe_url }}"}, owner=alice
    )

    assert not form.is_valid()
    assert "language" in form.errors


def test_the_form_accepts_a_valid_footer(alice):
    form = FooterTextForm({"language": "en", "text": RU_FOOTER}, owner=alice)

    assert form.is_valid(), form.errors
