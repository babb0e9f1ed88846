"""Putting a message into its layout, once per run: the layout's ``{{ content }}``
slot gets the message and its footer, the result becomes a whole HTML document in
the message's language, its CSS is inlined (css-inline) and its lines are kept
short enough for SMTP. Placeholders stay in place for each recipient."""

from __future__ import annotations

import re
from functools import lru_cache

import css_inline
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext

# inscriptis ships no type information (and pyproject's list is not ours to edit).
from inscriptis import get_text  # type: ignore[import-untyped]
from inscriptis.css_profiles import CSS_PROFILES  # type: ignore[import-untyped]
from inscriptis.model.config import ParserConfig  # type: ignore[import-untyped]

from apps.content.placeholders import CONTENT

# The shipped layout: one centred column of at most 600 px that fills a phone's
# width, system fonts, links styled as buttons where the editor marked them so.
DEFAULT_LAYOUT = """\
<style>
body { margin: 0; padding: 0; background: #f3f4f6; }
.mailshot-wrapper { width: 100%; background: #f3f4f6; padding: 24px 0; }
.mailshot-body { max-width: 600px; margin: 0 auto; background: #ffffff;
  padding: 32px; border-radius: 8px; font-family: -apple-system, "Segoe UI",
  Roboto, Helvetica, Arial, sans-serif; font-size: 16px; line-height: 1.6;
  color: #111827; }
h1, h2, h3, h4 { line-height: 1.3; margin: 0 0 16px; color: #111827; }
p { margin: 0 0 16px; }
a { color: #2563eb; }
a.button { display: inline-block; padding: 12px 24px; border-radius: 6px;
  background: #2563eb; color: #ffffff; text-decoration: none; font-weight: 600; }
img { max-width: 100%; height: auto; border: 0; }
blockquote { margin: 0 0 16px; padding-left: 16px; border-left: 4px solid #e5e7eb;
  color: #4b5563; }
table { border-collapse: collapse; }
td, th { padding: 4px 8px; }
.mailshot-unsubscribe { font-size: 12px; color: #6b7280; text-align: center;
  margin: 16px 0 0; }
.mailshot-unsubscribe a { color: #6b7280; }
@media (max-width: 620px) {
  .mailshot-body { padding: 16px !important; border-radius: 0 !important; }
}
</style>
<div class="mailshot-wrapper">
<div class="mailshot-body">
{{ content }}
</div>
<p class="mailshot-unsubscribe">
<a href="{{ unsubscribe_url }}">UNSUBSCRIBE_LABEL</a>
</p>
</div>
"""


def default_layout(language: str) -> str:
    """The shipped layout, its unsubscribe link labelled in `language`."""
    with translation.override(language):
        label = escape(gettext("Unsubscribe"))
    return DEFAULT_LAYOUT.replace("UNSUBSCRIBE_LABEL", label)


# Sample content for previewing a layout.
SAMPLE_CONTENT = (
    "<h2>Hello {{ first_name }}!</h2>"
    "<p>This is how your messages look in this layout: headings, paragraphs, "
    '<a href="https://example.com/">links</a> and buttons.</p>'
    '<p><a class="button" href="https://example.com/">A button</a></p>'
    "<ul><li>A list</li><li>of points</li></ul>"
)

_INLINER = css_inline.CSSInliner(
    keep_at_rules=True,  # media queries cannot be inlined: kept in a style element
    load_remote_stylesheets=False,  # nothing is fetched while composing
    keep_link_tags=False,
)
MAX_LINE = 500
_SPACE = re.compile(r" +")
_TEXT_CONFIG = ParserConfig(
    css=CSS_PROFILES["relaxed"], display_links=True, display_images=True
)


def apply_layout(layout_html: str, content_html: str) -> str:
    """The layout with the message in its ``{{ content }}`` slot (each slot, should
    there be several)."""
    return CONTENT.sub(lambda _m: content_html, layout_html)


def document(body_html: str, *, language: str) -> str:
    """A whole HTML document around `body_html` with its CSS inlined and no line
    longer than MAX_LINE characters where a space allows a break."""
    page = (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"</head><body>{body_html}</body></html>"
    )
    return wrap_lines(_INLINER.inline(page))


def wrap_lines(html: str, width: int = MAX_LINE) -> str:
    """Long lines broken at spaces (HTML reads a line break as a space): SMTP
    allows 998 bytes a line, and shorter lines keep the message 8-bit."""
    out: list[str] = []
    for line in html.split("\n"):
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            if cut <= 0:
                cut = line.find(" ", width)
                if cut < 0:
                    break
            out.append(line[:cut])
            line = line[cut + 1 :]
        out.append(line)
    return "\n".join(out)


@lru_cache(maxsize=64)
def html_to_text(html: str) -> str:
    """The plain-text part made from a message's HTML (inscriptis): headings, lists
    and links kept readable, placeholders kept."""
    text = get_text(html or "", _TEXT_CONFIG)
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
