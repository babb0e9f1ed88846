"""E-mail HTML can carry no script, form or redirect; placeholders outside the
documented set are a form error that lists the valid ones."""

import pytest
from django.core.exceptions import ValidationError

from apps.blog.tests.test_sanitising import XSS_CORPUS, assert_harmless
from apps.content.models import Layout
from apps.content.placeholders import substitute, unknown_syntax, validate_placeholders
from apps.content.sanitize import layout_html_sanitize, message_html_sanitize
from apps.mailings.models import Message

EMAIL_TRICKS = [
    "<style>p{color:red}</style><p>x</p>",
    "<style>@import url(https://evil.example/x.css);</style>",
    "<STYLE>a{background:url('javascript:alert(1)')}</STYLE>",
    "<style><!--</style><img src=x onerror=alert(1)>-->",
    '<p style="background:url(https://track.example/p.gif)">x</p>',
    '<p style="behavior:url(x.htc)">x</p>',
    '<base href="https://evil.example/">',
    '<BASE HREF="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<META HTTP-EQUIV="refresh" CONTENT="0; URL=data:text/html,x">',
    '<form action="https://evil.example/"><input name="password"></form>',
    '<form><button formaction="javascript:alert(1)">x</button></form>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<video><source onerror="alert(1)"></video>',
    '<a href="javascript&colon;alert(1)">x</a>',
]
DANGEROUS_IN_MAIL = ["<form", "<input", "<button", "<meta", "<base", "<link", "<style"]
DANGEROUS_IN_MAIL += ["url(", "behavior", "evil.example", "<iframe", "<video"]


@pytest.mark.parametrize("payload", XSS_CORPUS + EMAIL_TRICKS)
def test_the_message_sanitiser_strips_every_payload(payload):
    clean = message_html_sanitize(f"<p>Before</p>{payload}<p>After</p>")
    assert_harmless(clean)
    for marker in DANGEROUS_IN_MAIL:
        assert marker not in clean.lower(), (marker, clean)
    assert "<p>Before</p>" in clean


@pytest.mark.parametrize("payload", XSS_CORPUS + EMAIL_TRICKS)
def test_the_layout_sanitiser_strips_every_payload_but_plain_style(payload):
    clean = layout_html_sanitize(f"<div>{{{{ content }}}}</div>{payload}").lower()
    for marker in ["<script", "javascript:", "onerror", "onload", "<form", "<meta"]:
        assert marker not in clean, (marker, clean)
    for marker in ["<base", "<iframe", "<link", "url(", "@import", "behavior"]:
        assert marker not in clean, (marker, clean)
    assert "{{ content }}" in clean


def test_a_layout_keeps_its_style_element_and_table_markup():
    html = (
        "<style>p { color: #111 } @media (max-width: 600px) { p { margin: 0 } }</style>"
        '<table width="100%" cellpadding="0" role="presentation"><tr>'
        '<td style="padding: 8px" bgcolor="#fff">{{ content }}</td></tr></table>'
    )
    clean = layout_html_sanitize(html)
    assert "@media (max-width: 600px)" in clean
    assert 'cellpadding="0"' in clean and 'style="padding: 8px"' in clean


def test_what_the_email_editor_produces_survives_with_absolute_image_urls(settings):
    settings.SITE_URL = "https://mailshot.example"
    html = (
        "<h2>Title</h2><p><strong>b</strong> <i>i</i> "
        '<a href="https://example.com/x">link</a> '
        '<a class="button" href="https://example.com/buy">Buy</a> '
        '<a href="{{ unsubscribe_url }}">unsubscribe</a></p>'
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote><p>q</p></blockquote>"
        '<figure class="image"><img src="/media/mail/2027/01/a.png" alt="A"></figure>'
        "<hr>"
    )
    clean = message_html_sanitize(html)
    for fragment in [
        "<h2>Title</h2>",
        'href="https://example.com/x"',
        'class="button"',
        'href="{{ unsubscribe_url }}"',
        "<ul><li>one</li></ul>",
        'src="https://mailshot.example/media/mail/2027/01/a.png"',
        "<hr>",
    ]:
        assert fragment in clean, fragment


@pytest.mark.parametrize(
    "text",
    [
        "Hi {{ full_name }}, {{first_name}} {{  email }} {{ unsubscribe_url }}",
        '{{ today }} {{ attr.city }} {{ attr.plan_2|default:"free" }}',
        "No placeholders at all { } {x}",
    ],
)
def test_the_documented_placeholders_are_accepted(text):
    validate_placeholders(text)


@pytest.mark.parametrize(
    "text, found",
    [
        ("Hi {{ unknown_tag }}", "{{ unknown_tag }}"),
        ("{% if x %}yes{% endif %}", "{% if x %}"),
        ("{{ full_name|upper }}", "{{ full_name|upper }}"),
        ("{# note #}", "{# note #}"),
        ("{{ settings.SECRET_KEY }}", "{{ settings.SECRET_KEY }}"),
        ("unclosed {{ full_name", "{{"),
        ("{{ attr.city|default:x }}", "{{ attr.city|default:x }}"),
        ("{{ content }}", "{{ content }}"),
    ],
)
def test_other_template_syntax_is_an_error_listing_the_valid_names(text, found):
    with pytest.raises(ValidationError) as caught:
        validate_placeholders(text)
    message = caught.value.messages[0]
    assert found in message
    assert "{{ full_name }}" in message and "{{ attr.NAME" in message


def test_a_message_form_error_names_the_field_with_the_bad_placeholder(alice):
    message = Message(
        owner=alice,
        subject="Hi {{ nope }}",
        body="{% if x %}",
        body_html="<p>{{ user.password }}</p>",
    )
    with pytest.raises(ValidationError) as caught:
        message.full_clean()
    assert set(caught.value.message_dict) >= {"subject", "body", "body_html"}


def test_a_message_needs_text_or_html_but_not_both(alice):
    Message(owner=alice, subject="S", body="", body_html="<p>x</p>").full_clean()
    Message(owner=alice, subject="S", body="x", body_html="").full_clean()
    with pytest.raises(ValidationError):
        Message(owner=alice, subject="S", body=" ", body_html="").full_clean()


def test_a_layout_must_hold_the_content_slot_and_the_unsubscribe_link(alice):
    with pytest.raises(ValidationError) as caught:
        Layout(owner=alice, name="L", html="<p>{{ unsubscribe_url }}</p>").full_clean()
    assert "{{ content }}" in caught.value.message_dict["html"][0]
    with pytest.raises(ValidationError) as caught:
        Layout(owner=alice, name="L", html="<div>{{ content }}</div>").full_clean()
    assert "{{ unsubscribe_url }}" in caught.value.message_dict["html"][0]
    with pytest.raises(ValidationError):
        Layout(
            owner=alice, name="L", html="{{ content }}{{ unsubscribe_url }}{% x %}"
        ).full_clean()
    Layout(
        owner=alice,
        name="L",
        html='<div>{{ content }}<a href="{{ unsubscribe_url }}">u</a></div>',
    ).full_clean()


def test_a_stored_message_is_cleaned_whatever_the_write_path(alice):
    message = Message.objects.create(
        owner=alice, subject="S", body_html='<p>ok</p><img src=x onerror="alert(1)">'
    )
    message.refresh_from_db()
    assert "onerror" not in message.body_html


def test_values_are_escaped_in_html_and_defaults_fill_missing_attributes():
    context = {"full_name": "<b>&</b>"}
    assert (
        substitute("{{ full_name }}", context, html=True) == "&lt;b&gt;&amp;&lt;/b&gt;"
    )
    assert substitute("{{ full_name }}", context) == "<b>&</b>"
    text = '{{ attr.city|default:"Paris" }}/{{ attr.plan }}'
    assert substitute(text, {}, {"plan": "pro"}) == "Paris/pro"
    assert unknown_syntax(text) == []
