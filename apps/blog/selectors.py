"""Reads for the public blog, served from the shared cache.

What is cached is plain data (dicts of strings, numbers and datetimes), never HTML:
pages are rendered per request, so each visitor gets their own CSRF token and language,
and the cached data is the same for every language. Keys carry a version that any
post save or delete replaces (signals.py), so every process sees a change at once.
A post scheduled for later must appear on time: entries never outlive the next
scheduled publication.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any

from django.core.cache import cache
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Min, Q
from django.http import Http404
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.text import Truncator

from apps.blog.models import Post
from apps.blog.services import post_content_sanitize

PAGE_SIZE = 9
POOL_SIZE = 300  # the newest published posts the home page picks from
CACHE_TTL = 60 * 60 * 24
VERSION_KEY = "blog:version"
BLOCK_END = re.compile(r"</(p|h[1-6]|li|blockquote|figcaption|td|th|tr|pre)>|<br ?/?>")


def blog_version() -> int:
    version: int | None = cache.get(VERSION_KEY)
    if version is None:
        # A fresh number (not 1) so entries left from before an eviction are orphaned.
        version = time.time_ns()
        cache.add(VERSION_KEY, version, None)
        version = cache.get(VERSION_KEY, version)
    return version


def blog_cache_bump() -> None:
    """Orphan every cached blog entry (list pages, details, the home pool)."""
    cache.set(VERSION_KEY, time.time_ns(), None)


def _cache_get(key: str) -> Any:
    entry = cache.get(key)
    if entry is None:
        return None
    valid_until, data = entry
    if valid_until is not None and timezone.now() >= valid_until:
        return None  # a scheduled post has come out since
    return data


def _cache_set(key: str, data: Any) -> None:
    """Store ``data`` until the next scheduled publication (checked on read)."""
    upcoming = Post.objects.filter(
        is_published=True, published_at__gt=timezone.now()
    ).aggregate(first=Min("published_at"))["first"]
    cache.set(key, (upcoming, data), CACHE_TTL)


def _excerpt(markup: str, words: int = 30) -> str:
    """Plain text (entities decoded; templates escape it again) cut to ``words``."""
    spaced = BLOCK_END.sub(r"\g<0> ", markup)  # "<h2>A</h2><p>B" reads "A B"
    text = html.unescape(strip_tags(spaced)).replace("\xa0", " ")
    return Truncator(" ".join(text.split())).words(words, truncate="…")


def _card(post: Post) -> dict[str, Any]:
    return {
        "id": post.pk,
        "title": post.title,
        "slug": post.slug,
        "url": post.get_absolute_url(),
        "excerpt": _excerpt(post.content),
        "image_url": post.image.url if post.image else "",
        "published_at": post.published_at,
        "views_count": post.views_count,
    }


def post_page(*, page: str | int | None) -> dict[str, Any]:
    """One page of the public list: {"posts", "number", "num_pages", ...}."""
    try:
        number = int(page or 1)
    except (TypeError, ValueError):
        raise Http404("Invalid page") from None
    key = f"blog:{blog_version()}:list:{number}"
    data: dict[str, Any] | None = _cache_get(key)
    if data is None:
        paginator = Paginator(Post.objects.published(), PAGE_SIZE)
        try:
            page_obj = paginator.page(number)
        except (EmptyPage, PageNotAnInteger):
            if number != 1:
                raise Http404("No such page") from None
            page_obj = None  # an empty blog still has a first page
        cards = [_card(post) for post in page_obj.object_list] if page_obj else []
        data = {
            "posts": cards,
            "number": number,
            "num_pages": paginator.num_pages if page_obj else 1,
        }
        _cache_set(key, data)
    return data


def post_public(*, slug: str) -> dict[str, Any]:
    """A published post as data, or Http404 (hidden and missing posts look alike)."""
    key = f"blog:{blog_version()}:post:{slug}"
    data: dict[str, Any] | None = _cache_get(key)
    if data is None:
        post = Post.objects.published().filter(slug=slug).first()
        if post is None:
            raise Http404("No such post")
        data = {
            **_card(post),
            # Sanitised on save already; again here for rows written around save().
            "content": post_content_sanitize(post.content),
            "description": _excerpt(post.content, 40),
            "updated_at": post.updated_at,
        }
        _cache_set(key, data)
    return data


def post_pool() -> list[dict[str, Any]]:
    """The cached pool the home page draws its random posts from."""
    key = f"blog:{blog_version()}:pool"
    pool: list[dict[str, Any]] | None = _cache_get(key)
    if pool is None:
        posts = Post.objects.published()[:POOL_SIZE]
        pool = [_card(post) for post in posts]
        _cache_set(key, pool)
    return pool


def editor_dashboard(*, limit: int = 5) -> dict[str, Any]:
    """What an editor's dashboard lists: drafts (unpublished, or due later), most
    recently edited first, and the most-read published posts. Two small queries."""
    fields = (
        "pk",
        "title",
        "is_published",
        "published_at",
        "updated_at",
        "views_count",
    )
    drafts = (
        Post.objects.filter(Q(is_published=False) | Q(published_at__gt=timezone.now()))
        .order_by("-updated_at")
        .only(*fields)[:limit]
    )
    most_read = (
        Post.objects.published()
        .filter(views_count__gt=0)
        .order_by("-views_count", "-published_at")
        .only(*fields)[:limit]
    )
    return {"drafts": list(drafts), "most_read": list(most_read)}
