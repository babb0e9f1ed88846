from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def url_or(name: str, fallback: str) -> str:
    """``{% url %}`` that falls back to a literal path when the route is absent."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback
