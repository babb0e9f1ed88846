"""``{{ opts|add_label }}``: the add button's words for a model ("Add client"), from
``apps.core.admin_messages`` rather than Django's "Add %(name)s"."""

from typing import Any

from django import template

from apps.core.admin_messages import texts_for

register = template.Library()


@register.filter
def add_label(opts: Any) -> str:
    return str(texts_for(opts.model).add)
