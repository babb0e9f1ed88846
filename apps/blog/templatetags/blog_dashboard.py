"""``{% editor_dashboard as panel %}``: the blog part of the admin dashboard for people
who write posts ("Write a post", drafts, most read); None for everybody else."""

from typing import Any

from django import template

from apps.blog import selectors
from apps.blog.models import Post
from apps.core import permissions

register = template.Library()


@register.simple_tag(takes_context=True)
def editor_dashboard(context: Any) -> dict[str, Any] | None:
    request = context.get("request")
    if request is None or not permissions.may(request.user, "change", Post):
        return None
    return {
        **selectors.editor_dashboard(),
        "may_add": permissions.may(request.user, "add", Post),
    }
