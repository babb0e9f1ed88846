"""Admin template helpers: ``{{ opts|add_label }}``, the add button's words for a
model ("Add client", from ``apps.core.admin_messages`` rather than Django's
"Add %(name)s"); ``{{ field|readonly_contents }}``, a read-only value with its line
breaks."""

from typing import Any

from django import template
from django.db import models
from django.template.defaultfilters import linebreaksbr

from apps.core.admin_messages import texts_for

register = template.Library()


@register.filter
def add_label(opts: Any) -> str:
    return str(texts_for(opts.model).add)


@register.filter
def readonly_contents(field: Any) -> str:
    """A read-only field's contents; a text field's line breaks kept as ``<br>``
    (Unfold shows a message body read-only as one run-on paragraph)."""
    contents = field.contents()
    resolved = getattr(field, "resolved_field", None)
    if isinstance(resolved, tuple) and isinstance(resolved[0], models.TextField):
        return linebreaksbr(contents)
    return contents
