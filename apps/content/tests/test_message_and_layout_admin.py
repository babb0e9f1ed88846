"""Writing an HTML message and a layout in the admin: the e-mail editor, its image
uploads, the owner's layouts only, the language a new message speaks; who may see
and change layouts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.blog.tests.conftest import image_bytes
from apps.content.models import Layout
from apps.core import permissions
from apps.mailings.models import Message
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

LAYOUT_HTML = '<div>{{ content }}</div><a href="{{ unsubscribe_url }}">u</a>'


def make_layout(owner, name="Frame"):
    layout = Layout.objects.create(owner=owner, name=name, html=LAYOUT_HTML)
    permissions.owner_permissions_grant(owner=owner, objects=layout)
    return layout


def test_the_message_form_uses_the_email_editor_and_its_own_upload_url(login, alice):
    body = login(alice).get(reverse("admin:mailings_message_add")).content.decode()
    assert "django_ckeditor_5" in body
    assert reverse("admin:mailings_message_image_upload") in body
    assert f'data-upload-url="{reverse("ck_editor_5_upload_file")}"' not in body


def test_a_new_message_speaks_the_language_of_the_admin(login, alice):
    http = login(alice)
    page = http.get(reverse("admin:mailings_message_add"), HTTP_ACCEPT_LANGUAGE="ru")
    assert page.context["adminform"].form.initial["language"] == "ru"


def test_an_html_message_is_saved_clean_with_a_text_part_left_to_be_made(
    login, alice, settings
):
    settings.SITE_URL = "https://mailshot.example"
    layout = make_layout(alice)
    response = login(alice).post(
        reverse("admin:mailings_message_add"),
        {
            "subject": "Hi {{ first_name }}",
            "body_html": (
                '<p>Hi</p><script>alert(1)</script><img src="/media/mail/a.png">'
            ),
            "body": "",
            "layout": layout.pk,
            "language": "ru",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    message = Message.objects.get()
    assert "<script" not in message.body_html
    assert 'src="https://mailshot.example/media/mail/a.png"' in message.body_html
    assert message.layout == layout and message.language == "ru"


def test_a_bad_placeholder_is_a_form_error_listing_the_valid_ones(login, alice):
    response = login(alice).post(
        reverse("admin:mailings_message_add"),
        {"subject": "Hi {{ nope }}", "body": "{% if x %}", "language": "en"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "{{ nope }}" in errors["subject"][0]
    assert "{{ full_name }}" in errors["subject"][0]
    assert "{% if x %}" in errors["body"][0]
    assert not Message.objects.exists()


def test_someone_elses_layout_cannot_be_chosen(login, alice, bob):
    theirs = make_layout(bob)
    response = login(alice).post(
        reverse("admin:mailings_message_add"),
        {"subject": "S", "body": "B", "layout": theirs.pk, "language": "en"},
    )
    assert response.status_code == 200
    assert "layout" in response.context["adminform"].form.errors


def test_message_writers_upload_images_and_others_do_not(
    login, alice, editor, manager, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    url = reverse("admin:mailings_message_image_upload")

    def upload(http):
        png = SimpleUploadedFile("pic.png", image_bytes("PNG"), "image/png")
        return http.post(url, {"upload": png})

    ok = upload(login(alice))
    assert ok.status_code == 200
    assert ok.json()["url"].startswith("/media/mail/")
    assert upload(login(manager)).status_code == 403
    assert upload(login(editor)).status_code == 403
    bad = login(alice).post(
        url, {"upload": SimpleUploadedFile("x.png", b"not an image", "image/png")}
    )
    assert bad.status_code == 400


def test_uploading_needs_a_login(client):
    response = client.post(reverse("admin:mailings_message_image_upload"))
    assert response.status_code == 302


# --- layouts ---


@pytest.mark.parametrize(
    "persona, change, preview",
    [
        ("alice", 200, 200),
        ("bob", 302, 404),  # the admin's "does not exist" redirect, like other objects
        ("manager", 200, 200),
        ("editor", 403, 403),
    ],
)
def test_who_sees_a_layout_and_its_preview(
    request, login, alice, persona, change, preview
):
    layout = make_layout(alice)
    http = login(request.getfixturevalue(persona))
    assert (
        http.get(reverse("admin:content_layout_change", args=[layout.pk])).status_code
        == change
    )
    assert (
        http.get(
            reverse("admin:content_layout_preview_layout", args=[layout.pk])
        ).status_code
        == preview
    )
    frame = http.get(reverse("admin:content_layout_preview_html", args=[layout.pk]))
    assert frame.status_code == preview
    if preview == 200:
        assert "default-src 'none'" in frame["Content-Security-Policy"]
        assert "Hello Sample!" in frame.content.decode()


def test_a_layout_without_the_content_slot_is_refused_with_a_clear_error(login, alice):
    response = login(alice).post(
        reverse("admin:content_layout_add"), {"name": "L", "html": "<p>none</p>"}
    )
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["html"])
    assert "{{ content }}" in errors and "{{ unsubscribe_url }}" in errors


def test_the_layout_list_shows_only_ones_own(
    login, alice, bob, django_assert_max_num_queries
):
    make_layout(alice, "Alice frame")
    for n in range(5):
        make_layout(bob, f"Bob frame {n}")
    http = login(alice)
    with django_assert_max_num_queries(12):
        body = http.get(reverse("admin:content_layout_changelist")).content.decode()
    assert "Alice frame" in body and "Bob frame" not in body


def test_the_message_list_stays_within_a_fixed_number_of_queries(
    login, alice, django_assert_max_num_queries
):
    for _ in range(30):
        MessageFactory(owner=alice)
    http = login(alice)
    with django_assert_max_num_queries(12):
        http.get(reverse("admin:mailings_message_changelist"))
