from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from apps.blog import selectors, services
from apps.blog.models import Post
from apps.core import permissions


@require_safe
def post_list(request: HttpRequest) -> HttpResponse:
    """The public blog, paginated. Template ``blog/post_list.html``, context ``page``
    (a dict from the cache: ``posts``, ``number``, ``num_pages``)."""
    page = selectors.post_page(page=request.GET.get("page"))
    return render(
        request,
        "blog/post_list.html",
        {"page": page, "canonical_url": _canonical(request.path, page["number"])},
    )


@require_safe
def post_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One published post. Template ``blog/post_detail.html``; context ``post``.

    The post's data may come from the cache; the view is counted in the database
    either way, and that same UPDATE confirms the post is still public.
    """
    post = dict(selectors.post_public(slug=slug))
    if request.method == "GET":  # HEAD (link checkers, monitors) is not a read
        views = services.post_register_view(post_id=post["id"])
        if views is None:
            raise Http404("No such post")
        post["views_count"] = views
    return render(
        request,
        "blog/post_detail.html",
        {
            "post": post,
            "canonical_url": settings.SITE_URL + post["url"],
            "image_absolute_url": _absolute(post["image_url"]),
        },
    )


def _absolute(url: str) -> str:
    """Sharing tags need absolute URLs; SITE_URL, not the request's Host header."""
    if not url or url.startswith(("http://", "https://")):
        return url
    return settings.SITE_URL + url


def _canonical(path: str, number: int) -> str:
    return settings.SITE_URL + path + (f"?page={number}" if number > 1 else "")


@require_POST
def image_upload(request: HttpRequest) -> JsonResponse:
    """CKEditor 5's image upload, for content editors only (replaces the library's
    view, which lets any logged-in user upload). Answers in CKEditor's JSON format."""
    user = request.user
    if not any(permissions.may(user, action, Post) for action in ("add", "change")):
        return JsonResponse(
            {"error": {"message": _("You may not upload images.")}}, status=403
        )
    upload = request.FILES.get("upload")
    if upload is None:
        return JsonResponse({"error": {"message": _("No file was sent.")}}, status=400)
    try:
        url = services.image_upload_store(upload=upload)
    except ValidationError as error:
        return JsonResponse({"error": {"message": error.messages[0]}}, status=400)
    return JsonResponse({"url": url})
