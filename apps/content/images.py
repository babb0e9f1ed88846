"""Images uploaded through a message's editor.

Stored like the blog's uploads (checked by ``apps.blog.services.image_name``: a
real JPEG/PNG/GIF/WebP within the size limits, a random name) in their own folder,
and served from ``MEDIA_URL``; the message's HTML refers to them at ``SITE_URL``
(``apps.content.sanitize``), so a mail shows them wherever it is read.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.blog.services import image_name
from apps.core import permissions

UPLOAD_FOLDER = "mail"


def message_image_store(*, upload: UploadedFile) -> str:
    """Check an upload, store it, return its URL."""
    folder = f"{UPLOAD_FOLDER}/{timezone.now():%Y/%m}"
    saved = default_storage.save(image_name(folder=folder, upload=upload), upload)
    return default_storage.url(saved)


@require_POST
def message_image_upload(request: HttpRequest) -> JsonResponse:
    """CKEditor 5's image upload for message writers (those who may add or change
    messages). Answers in CKEditor's JSON format."""
    from apps.mailings.models import Message

    if not any(
        permissions.may(request.user, action, Message) for action in ("add", "change")
    ):
        return JsonResponse(
            {"error": {"message": _("You may not upload images.")}}, status=403
        )
    upload = request.FILES.get("upload")
    if upload is None:
        return JsonResponse({"error": {"message": _("No file was sent.")}}, status=400)
    try:
        url = message_image_store(upload=upload)
    except ValidationError as error:
        return JsonResponse({"error": {"message": error.messages[0]}}, status=400)
    return JsonResponse({"url": url})
