"""Writes for the blog: sanitising post HTML, slugs, image uploads, view counting."""

from __future__ import annotations

import uuid
from html import unescape

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

# What CKEditor 5 (our "default" toolbar) produces, and nothing else.
ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "a",
    "ul", "ol", "li", "blockquote", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "hr",
    "pre", "code", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
# Listing a tag here allows its "class" attribute with only these values.
ALLOWED_CLASSES = {
    "figure": {
        "image",
        "table",
        "image-style-align-left",
        "image-style-align-right",
        "image-style-align-center",
        "image-style-side",
        "image-style-block-align-left",
        "image-style-block-align-right",
        "image_resized",
    },
}
# Relative URLs stay allowed (uploaded images live under MEDIA_URL).
URL_SCHEMES = {"http", "https", "mailto"}
# Dropped together with their content, not just unwrapped.
CLEAN_CONTENT_TAGS = {"script", "style", "noscript", "template", "svg", "math"}

IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
UPLOAD_FOLDER = "blog/uploads"
MAX_IMAGE_PIXELS = 40_000_000

# Russian letters to Latin (a simplified GOST 7.79-2000 system B), for slugs.
CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяєіїґ",
        "a b v g d e yo zh z i j k l m n o p r s t u f h c ch sh shch - y - e yu ya "
        "ye i yi g".split(),
        strict=True,
    )
)


def post_content_sanitize(html: str) -> str:
    """Clean post HTML so that stored markup can never run script (nh3)."""
    return nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def post_content_is_empty(html: str) -> bool:
    """Whether post HTML shows nothing: no image and no visible character (the
    editor leaves ``<p>&nbsp;</p>`` in a field that looks empty)."""
    if "<img" in (html or "").lower():
        return False
    text = unescape(nh3.clean(html or "", tags=set()))
    return not "".join(ch for ch in text if ch.isprintable() and not ch.isspace())


def transliterate(text: str) -> str:
    out = []
    for char in text:
        latin = CYRILLIC.get(char.lower())
        if latin is None:
            out.append(char)
        elif latin != "-":
            out.append(latin.capitalize() if char.isupper() else latin)
    return "".join(out)


def post_slug_generate(*, title: str, exclude_pk: int | None = None) -> str:
    """A unique ASCII slug from the title (Cyrillic transliterated)."""
    from apps.blog.models import Post

    # A SlugField always has a max_length (50 unless given); the stubs allow None.
    max_length = Post._meta.get_field("slug").max_length or 50
    base = slugify(transliterate(title))[: max_length - 10].strip("-") or "post"
    taken = set(
        Post.objects.filter(slug__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def post_register_view(*, post_id: int) -> int | None:
    """Add one view atomically; return the new count, or None if the post is hidden.

    One UPDATE ... RETURNING (PostgreSQL, SQLite >= 3.35): atomic, and it re-checks
    that the post is still public, so a page served from the cache costs one query.
    """
    from apps.blog.models import Post

    table = connection.ops.quote_name(Post._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET views_count = views_count + 1 "  # noqa: S608
            "WHERE id = %s AND is_published = %s AND published_at <= %s "
            "RETURNING views_count",
            [post_id, True, timezone.now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def image_extension(upload: UploadedFile) -> str:
    """Check that an upload is a real raster image of an allowed format and size,
    and return the file extension of the format detected in its bytes.

    The client's file name and content type are never trusted: a PNG named
    ``cover.pdf`` would otherwise be served as a PDF from the site's origin.
    """
    max_mb = getattr(settings, "CKEDITOR_5_MAX_FILE_SIZE", 5)
    if upload.size is not None and upload.size > max_mb * 1024 * 1024:
        raise ValidationError(
            _("The image is too large (at most %(mb)s MB).") % {"mb": max_mb}
        )
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ValidationError(_("The file is not a valid image.")) from None
    finally:
        upload.seek(0)
    if image_format not in IMAGE_FORMATS:
        raise ValidationError(_("Upload a JPEG, PNG, GIF or WebP image."))
    if width * height > MAX_IMAGE_PIXELS:
        raise ValidationError(_("The image has too many pixels."))
    return IMAGE_FORMATS[image_format]


def image_name(*, folder: str, upload: UploadedFile) -> str:
    """``<folder>/<uuid>.<extension of the detected format>``: nothing of the
    uploaded name is kept."""
    return f"{folder}/{uuid.uuid4().hex}.{image_extension(upload)}"


def image_upload_store(*, upload: UploadedFile) -> str:
    """Check an editor's upload (``image_extension``), store it, return its URL."""
    folder = f"{UPLOAD_FOLDER}/{timezone.now():%Y/%m}"
    saved = default_storage.save(image_name(folder=folder, upload=upload), upload)
    return default_storage.url(saved)
