"""Stored markup can never run script: nh3 on save, again when a page is cached."""

import pytest

from apps.blog.models import Post
from apps.blog.services import post_content_sanitize
from tests.factories import PostFactory

XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src="x" onerror="alert(1)">',
    '<p onclick="alert(1)" onmouseover=alert(1)>text</p>',
    '<body onload="alert(1)">',
    '<a href="javascript:alert(1)">link</a>',
    '<a href="JaVaScRiPt:alert(1)">link</a>',
    '<a href="  javascript:alert(1)">link</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:alert(1)">',
    '<a href="&#x6A;avascript&#x3A;alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    '<svg><script>alert(1)</script></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<style>body{background:url("javascript:alert(1)")}</style>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<!--<img src=x onerror=alert(1)>-->",
    '<img src=x onerror=alert(1)//',
    '<<script>alert(1);//<</script>',
    '<template><img src=x onerror=alert(1)></template>',
    '<details open ontoggle="alert(1)">x</details>',
    '<a href="https://ok.example" onfocus="alert(1)" autofocus>x</a>',
]  # fmt: skip

DANGEROUS = [
    "<script",
    "javascript:",
    "vbscript:",
    "data:",
    "onerror",
    "onload",
    "onclick",
    "onmouseover",
    "ontoggle",
    "onfocus",
    "<svg",
    "<iframe",
    "<object",
    "<embed",
    "<form",
    "<style",
    "<meta",
    "<base",
    "style=",
    "<math",
]


def assert_harmless(html: str) -> None:
    lowered = html.lower()
    for marker in DANGEROUS:
        assert marker not in lowered, f"{marker!r} survived in {html!r}"


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_sanitiser_strips_every_payload_of_the_corpus(payload):
    assert_harmless(post_content_sanitize(payload))


@pytest.mark.django_db
@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_stored_and_rendered_posts_carry_no_script(client, payload):
    post = PostFactory(content=f"<p>Before</p>{payload}<p>After</p>")
    post.refresh_from_db()
    assert_harmless(post.content)

    response = client.get(post.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    article = body[body.index('<div class="prose">') : body.index("</article>")]
    assert_harmless(article)
    assert "<p>Before</p>" in article  # the rest of the post is still there


@pytest.mark.django_db
def test_rows_written_around_save_are_cleaned_when_the_page_is_built(client):
    post = PostFactory(content="<p>ok</p>")
    Post.objects.filter(pk=post.pk).update(content='<p>ok</p><img src=x onerror="1">')
    body = client.get(post.get_absolute_url()).content.decode()
    assert "onerror" not in body


def test_what_the_editor_produces_survives():
    html = (
        "<h2>Title</h2><h3>Sub</h3><p><strong>bold</strong> <i>it</i> "
        '<a href="https://example.com/x">link</a> <a href="/blog/">local</a> '
        '<a href="mailto:hi@example.com">mail</a></p>'
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote><p>q</p></blockquote>"
        '<figure class="image image-style-align-left">'
        '<img src="/media/blog/uploads/a.png" alt="A" width="10" height="10">'
        "<figcaption>cap</figcaption></figure>"
        '<figure class="table"><table><thead><tr><th colspan="2">h</th></tr></thead>'
        "<tbody><tr><td>a</td><td>b</td></tr></tbody></table></figure>"
    )
    clean = post_content_sanitize(html)
    for fragment in [
        "<h2>Title</h2>",
        "<h3>Sub</h3>",
        "<strong>bold</strong>",
        'href="https://example.com/x"',
        'href="/blog/"',
        'href="mailto:hi@example.com"',
        "<ul><li>one</li></ul>",
        "<ol><li>two</li></ol>",
        "<blockquote>",
        'class="image image-style-align-left"',
        'src="/media/blog/uploads/a.png"',
        'alt="A"',
        "<figcaption>cap</figcaption>",
        '<th colspan="2">h</th>',
        "<td>a</td>",
    ]:
        assert fragment in clean, fragment


def test_unknown_classes_are_dropped_and_links_get_a_safe_rel():
    clean = post_content_sanitize(
        '<figure class="image evil"><img src="/a.png"></figure>'
        '<a href="https://x.example" target="_blank">x</a>'
    )
    assert 'class="image"' in clean
    assert "evil" not in clean
    assert 'rel="noopener noreferrer nofollow"' in clean
