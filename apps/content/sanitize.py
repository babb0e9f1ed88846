"""E-mail HTML that can carry no script, no form and nothing that reaches out.

Messages (``Message.body_html``) are cleaned on save to what the e-mail editor
produces: headings, paragraphs, lists, links (a link may be styled as a button),
images and tables. Layouts (the owner's frame around messages) may also carry
the table markup and inline styles e-mail clients need, and a ``<style>`` element
(inlined into ``style`` attributes when a run is composed). What no mail client
should meet is dropped whatever the source: scripts, forms, frames, ``<base>``,
``<meta>`` (a refresh redirects), SVG and MathML (parser tricks), event handlers,
and ``javascript:``/``data:`` URLs.

A site-relative URL (an image uploaded through the editor is ``/media/...``)
becomes absolute at ``SITE_URL``: a mail is read far from the site.
"""

from __future__ import annotations

import re

import nh3
from django.conf import settings

MESSAGE_TAGS = {
    "p", "br", "h1", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "a",
    "ul", "ol", "li", "blockquote", "figure", "figcaption", "img",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "hr", "span",
}  # fmt: skip
MESSAGE_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
# Listing a tag here allows its "class" attribute with only these values.
MESSAGE_CLASSES = {
    "a": {"button"},
    "figure": {
        "image",
        "table",
        "image-style-align-left",
        "image-style-align-right",
        "image-style-align-center",
        "image-style-side",
    },
}
LAYOUT_TAGS = MESSAGE_TAGS | {"div", "center", "style", "h5", "h6", "small"}
_TABLE_ATTRIBUTES = {
    "align", "valign", "width", "height", "bgcolor", "border", "cellpadding",
    "cellspacing", "role",
}  # fmt: skip
LAYOUT_ATTRIBUTES = {
    "*": {"style", "class", "id", "dir", "lang", "align"},
    "a": {"href", "title", "target"},
    "img": {"src", "alt", "width", "height", "border"},
    "table": _TABLE_ATTRIBUTES,
    "tr": _TABLE_ATTRIBUTES,
    "td": _TABLE_ATTRIBUTES | {"colspan", "rowspan"},
    "th": _TABLE_ATTRIBUTES | {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}
# Dropped together with their content, not just unwrapped.
CLEAN_CONTENT_TAGS = {
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object",
    "embed", "form", "textarea", "select", "button", "head", "title", "base", "meta",
    "link", "frameset", "frame", "applet", "audio", "video",
}  # fmt: skip
# Inside a style element or attribute: what makes CSS fetch or run anything.
_CSS_DANGER = re.compile(
    r"url\s*\(|@import|expression\s*\(|javascript:|behavior\s*:|-moz-binding|\\",
    re.IGNORECASE,
)
_URL_ATTRIBUTES = {"href", "src"}


def _absolute(url: str) -> str:
    """A site-relative URL made absolute at SITE_URL; anything else as it is."""
    if url.startswith("/") and not url.startswith("//"):
        return settings.SITE_URL.rstrip("/") + url
    return url


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    if attribute in _URL_ATTRIBUTES:
        return _absolute(value)
    if attribute == "style" and _CSS_DANGER.search(value):
        return None
    return value


def message_html_sanitize(html: str) -> str:
    """A message's HTML as it is stored and sent."""
    return nh3.clean(
        html or "",
        tags=MESSAGE_TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=MESSAGE_ATTRIBUTES,
        allowed_classes=MESSAGE_CLASSES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_attribute_filter,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


_STYLE_ELEMENT = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.IGNORECASE | re.S)


def layout_html_sanitize(html: str) -> str:
    """A layout's HTML: a message's tags plus the frame's tables, inline styles and
    ``<style>`` elements, whose CSS may not fetch anything (``url()``,
    ``@import``)."""
    clean = nh3.clean(
        html or "",
        tags=LAYOUT_TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS - {"style"},
        attributes=LAYOUT_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_attribute_filter,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return _STYLE_ELEMENT.sub(
        lambda m: m.group(1) + _style_sanitize(m.group(2)) + m.group(3), clean
    ).strip()


def _style_sanitize(css: str) -> str:
    """A style element's CSS without the constructs that fetch or run anything,
    and without a way out of the element."""
    css = css.replace("<", "")
    while _CSS_DANGER.search(css):
        css = _CSS_DANGER.sub("", css)
    return css
