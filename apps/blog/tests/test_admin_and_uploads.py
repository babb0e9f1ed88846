"""Blog admin for content editors; image upload for them only."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from django.views.static import serve

from apps.blog.models import Post
from apps.blog.tests.conftest import image_bytes
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/ckeditor5/image_upload/"


def test_editor_can_list_add_change_and_delete_posts(editor, login):
    http = login(editor)
    assert http.get(reverse("admin:blog_post_changelist")).status_code == 200

    add = http.get(reverse("admin:blog_post_add"))
    assert add.status_code == 200
    assert "django_ckeditor_5" in add.content.decode()  # the rich-text widget

    response = http.post(
        reverse("admin:blog_post_add"),
        {
            "title": "Как мы считаем доставку",
            "slug": "",
            "content": '<h2>Hi</h2><img src=x onerror="alert(1)"><script>x</script>',
            "is_published": "on",
            "published_at_0": "2026-01-01",
            "published_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    post = Post.objects.get()
    assert post.slug == "kak-my-schitaem-dostavku"
    assert post.content == '<h2>Hi</h2><img src="x">'
    assert post.author == editor

    change_url = reverse("admin:blog_post_change", args=[post.pk])
    assert http.get(change_url).status_code == 200
    delete_url = reverse("admin:blog_post_delete", args=[post.pk])
    assert http.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Post.objects.exists()


@pytest.mark.parametrize("persona", ["alice", "manager"])
def test_users_and_managers_have_no_access_to_posts(persona, request, login):
    http = login(request.getfixturevalue(persona))
    post = PostFactory()
    for url in (
        reverse("admin:blog_post_changelist"),
        reverse("admin:blog_post_add"),
        reverse("admin:blog_post_change", args=[post.pk]),
        reverse("admin:blog_post_delete", args=[post.pk]),
    ):
        assert http.get(url).status_code == 403, url
    index = http.get(reverse("admin:index")).content.decode()
    assert reverse("admin:blog_post_changelist") not in index


def test_editor_uploads_a_real_image_into_its_own_folder(editor, login, media_root):
    upload = SimpleUploadedFile("../../evil name.png", image_bytes("PNG"), "image/png")
    response = login(editor).post(UPLOAD_URL, {"upload": upload})
    assert response.status_code == 200, response.content
    url = response.json()["url"]
    assert url.startswith("/media/blog/uploads/") and url.endswith(".png")
    assert "evil" not in url
    stored = media_root / url.removeprefix("/media/")
    assert stored.read_bytes() == image_bytes("PNG")


@pytest.mark.parametrize("persona", ["alice", "manager"])
def test_other_staff_may_not_upload(persona, request, login, media_root):
    upload = SimpleUploadedFile("a.png", image_bytes(), "image/png")
    http = login(request.getfixturevalue(persona))
    response = http.post(UPLOAD_URL, {"upload": upload})
    assert response.status_code == 403
    assert "error" in response.json()
    assert not media_root.exists() or not any(media_root.rglob("*.png"))


def test_anonymous_visitors_may_not_upload(client, media_root):
    upload = SimpleUploadedFile("a.png", image_bytes(), "image/png")
    assert client.post(UPLOAD_URL, {"upload": upload}).status_code == 403


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("fake.png", b"not an image at all"),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("x.html", b"<script>alert(1)</script>"),
    ],
)
def test_uploads_that_are_not_raster_images_are_refused(
    editor, login, media_root, name, content
):
    upload = SimpleUploadedFile(name, content, "image/png")
    response = login(editor).post(UPLOAD_URL, {"upload": upload})
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_an_image_format_outside_the_list_is_refused(editor, login, media_root):
    upload = SimpleUploadedFile("x.bmp", image_bytes("BMP"), "image/bmp")
    response = login(editor).post(UPLOAD_URL, {"upload": upload})
    assert response.status_code == 400


def test_uploads_over_the_size_limit_are_refused(editor, login, media_root, settings):
    settings.CKEDITOR_5_MAX_FILE_SIZE = 0.0001  # about 100 bytes
    upload = SimpleUploadedFile("big.png", image_bytes(size=(64, 64)), "image/png")
    response = login(editor).post(UPLOAD_URL, {"upload": upload})
    assert response.status_code == 400
    assert "too large" in response.json()["error"]["message"]


def test_upload_needs_post_and_a_file(editor, login):
    http = login(editor)
    assert http.get(UPLOAD_URL).status_code == 405
    assert http.post(UPLOAD_URL, {}).status_code == 400


def test_upload_is_csrf_protected(editor):
    from django.test import Client

    http = Client(enforce_csrf_checks=True)
    http.force_login(editor, backend="apps.users.backends.EmailBackend")
    upload = SimpleUploadedFile("a.png", image_bytes(), "image/png")
    assert http.post(UPLOAD_URL, {"upload": upload}).status_code == 403


def post_form(**extra):
    return {
        "title": "With a cover",
        "slug": "",
        "content": "<p>Body</p>",
        "is_published": "on",
        "published_at_0": "2026-01-01",
        "published_at_1": "10:00:00",
        **extra,
    }


def test_a_cover_image_is_accepted_from_the_admin(editor, login, media_root):
    cover = SimpleUploadedFile("cover.png", image_bytes("PNG"), "image/png")
    response = login(editor).post(
        reverse("admin:blog_post_add"), post_form(image=cover)
    )
    assert response.status_code == 302
    assert Post.objects.get().image.name.startswith("blog/")


def test_a_cover_image_in_another_format_is_refused(editor, login, media_root):
    cover = SimpleUploadedFile("cover.bmp", image_bytes("BMP"), "image/bmp")
    response = login(editor).post(
        reverse("admin:blog_post_add"), post_form(image=cover)
    )
    assert response.status_code == 200
    assert "Upload a JPEG, PNG, GIF or WebP image." in response.content.decode()
    assert not Post.objects.exists()


def test_the_editor_page_loads_the_styles_for_light_and_dark_mode(editor, login):
    from django.contrib.staticfiles import finders

    body = login(editor).get(reverse("admin:blog_post_add")).content.decode()
    assert "/static/css/ckeditor-admin.css" in body
    assert 'data-upload-url="/ckeditor5/image_upload/"' in body
    css = open(finders.find("css/ckeditor-admin.css")).read()
    assert "html.dark {" in css and "--ck-color-base-background" in css
    assert ".ck-content ul { list-style: disc" in css
    assert ".ck-content h2 {" in css


def test_the_upload_url_is_served_by_the_editor_only_view():
    from django.urls import resolve

    from apps.blog.views import image_upload

    assert resolve(UPLOAD_URL).func is image_upload


@pytest.mark.parametrize(
    ("name", "fmt", "extension", "content_type"),
    [
        ("cover.pdf", "PNG", "png", "image/png"),
        ("cover.png", "GIF", "gif", "image/gif"),
        ("../../Cover Photo.PNG", "JPEG", "jpg", "image/jpeg"),
        ("cover.gif", "WEBP", "webp", "image/webp"),
    ],
)
def test_a_cover_image_is_stored_under_a_random_name_with_its_real_extension(
    editor, login, media_root, name, fmt, extension, content_type
):
    cover = SimpleUploadedFile(name, image_bytes(fmt), "application/pdf")
    http = login(editor)

    response = http.post(reverse("admin:blog_post_add"), post_form(image=cover))

    assert response.status_code == 302
    stored = Post.objects.get().image.name
    assert re.fullmatch(rf"blog/[0-9a-f]{{32}}\.{extension}", stored), stored
    # What the site's media view answers for it (a front proxy guesses the same
    # way, from the extension).
    served = serve(RequestFactory().get("/"), stored, document_root=media_root)
    assert served["Content-Type"] == content_type


def test_a_file_that_is_not_an_image_is_refused_as_a_cover(editor, login, media_root):
    cover = SimpleUploadedFile("cover.png", b"%PDF-1.4 not an image", "image/png")

    response = login(editor).post(
        reverse("admin:blog_post_add"), post_form(image=cover)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["image"]
    assert not Post.objects.exists()
