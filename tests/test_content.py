"""A hostile corpus for the markdown renderer and the HTML sanitiser (security notes §2.1).

Every payload goes through :func:`render_markdown`, and the raw-HTML ones also straight through
:func:`sanitise_html`; a small checker built on :mod:`html.parser` then walks the output the way a
browser would and reports anything executable. The corpus borrows its shapes from the OWASP XSS
filter-evasion cheat sheet, PortSwigger's XSS cheat sheet, bleach's and html5lib's own test
vectors, and markdown-specific tricks (link destinations, autolinks, reference definitions,
titles, code).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from community.content import ALLOWED_TAGS, render_markdown, sanitise_html

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
REL = "nofollow ugc noopener"
# Attributes a browser resolves as a URL (only href and src survive the allowlist today; the
# others are checked so that widening the allowlist cannot slip a scheme past these tests).
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "xlink:href", "background", "poster", "data",
        "lowsrc", "dynsrc", "srcset", "cite", "longdesc", "codebase", "ping", "manifest",
    }
)  # fmt: skip
# Elements that run script, load active content, restyle the page or change how URLs and forms
# behave. They are findings even if someone adds them to ALLOWED_TAGS.
NEVER_ALLOWED = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "param",
        "svg", "math", "base", "meta", "link", "form", "input", "button", "textarea", "select",
        "template", "noscript", "video", "audio", "source", "track", "details", "dialog",
        "marquee", "body", "html", "head", "title", "xmp", "plaintext", "noembed", "isindex",
        "keygen", "bgsound", "layer", "xml", "portal", "canvas",
    }
)  # fmt: skip
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]")


# -- the checker -------------------------------------------------------------------------------


class _Findings(HTMLParser):
    """Walk rendered HTML and collect everything that could run script or leave the allowlist.

    ``html.parser`` decodes character references in attribute values exactly once, as a browser
    does, so the URL check sees what the browser's URL parser would see.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS or tag in NEVER_ALLOWED:
            self.findings.append(f"tag <{tag}> is not allowed")
        if tag == "a":
            self.links.append(dict(attrs))
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.append(f"event handler {name}= on <{tag}>")
            if name == "style":
                self.findings.append(f"style= on <{tag}>")
            if name in URL_ATTRIBUTES:
                scheme = url_scheme(value or "")
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    self.findings.append(f"{name}= with scheme {scheme!r} on <{tag}>: {value!r}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS or tag in NEVER_ALLOWED:
            self.findings.append(f"end tag </{tag}> is not allowed")

    def handle_comment(self, data: str) -> None:
        self.findings.append(f"comment <!--{data}--> survived")

    def handle_decl(self, decl: str) -> None:
        self.findings.append(f"declaration <!{decl}> survived")

    def unknown_decl(self, data: str) -> None:
        self.findings.append(f"declaration <![{data}]> survived")

    def handle_pi(self, data: str) -> None:
        self.findings.append(f"processing instruction <?{data}> survived")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would read from an (already entity-decoded) URL, or None if relative.

    Whitespace and control characters are removed everywhere, which is stricter than browsers
    (they drop tab and newline anywhere, and C0 controls and spaces only at either end).
    """
    match = _SCHEME.match(_INVISIBLE.sub("", value).lower())
    return match.group(1) if match else None


def inspect(html: str) -> _Findings:
    parser = _Findings()
    parser.feed(html)
    parser.close()
    return parser


def findings(html: str) -> list[str]:
    return inspect(html).findings


def code_texts(html: str) -> list[str]:
    """The text content of every <code> element, decoded as a browser shows it."""

    class _Code(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.depth = 0
            self.texts: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "code":
                self.depth += 1
                self.texts.append("")
            elif self.depth:
                self.texts[-1] += f"<{tag}>"  # markup inside code would be a bug

        def handle_endtag(self, tag: str) -> None:
            if tag == "code":
                self.depth -= 1

        def handle_data(self, data: str) -> None:
            if self.depth:
                self.texts[-1] += data

    parser = _Code()
    parser.feed(html)
    parser.close()
    return parser.texts


# The checker itself must be able to see what it is looking for.
@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<script>alert(1)</script>", "tag <script>"),
        ("<svg/onload=alert(1)>", "tag <svg>"),
        ('<img src="x" onerror="alert(1)">', "event handler onerror="),
        ('<p style="color:red">x</p>', "style= on <p>"),
        ('<a href="javascript:alert(1)">x</a>', "scheme 'javascript'"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "scheme 'javascript'"),
        ('<a href=" &#x09;java&#x0A;scr&#x0D;ipt:alert(1)">x</a>', "scheme 'javascript'"),
        ('<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:1">x</a>', "javas"),
        ('<a href="&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58;1">x</a>', "javas"),
        ('<img src="data:image/png;base64,AAAA">', "scheme 'data'"),
        ('<a href="vbscript:msgbox(1)">x</a>', "scheme 'vbscript'"),
        ('<a href="file:///etc/passwd">x</a>', "scheme 'file'"),
        ("<!-- x -->", "comment"),
    ],
)
def test_checker_reports(html: str, expected: str) -> None:
    assert any(expected in finding for finding in findings(html)), findings(html)


@pytest.mark.parametrize(
    "html",
    [
        '<p><a href="https://example.com/a?b=1&amp;c=2" rel="nofollow ugc noopener">x</a></p>',
        '<a href="mailto:ada@example.com">ada</a>',
        '<a href="/relative/path">x</a>',
        '<a href="#section">x</a>',
        '<a href="./looks:like-a-scheme">x</a>',
        '<img src="//cdn.example.com/x.png" alt="x">',
        '<a href="&amp;#14;javascript:alert(1)">x</a>',  # the browser sees "&#14;java…": relative
        '<a href="java%0Ascript:alert(1)">x</a>',  # "%" cannot be in a scheme: relative
    ],
)
def test_checker_accepts_safe_html(html: str) -> None:
    assert findings(html) == []


def test_allowlist_has_no_dangerous_tags() -> None:
    assert ALLOWED_TAGS.isdisjoint(NEVER_ALLOWED), ALLOWED_TAGS & NEVER_ALLOWED


# -- the corpus --------------------------------------------------------------------------------

JS = "javascript:alert(1)"

MARKDOWN_LINKS = [
    pytest.param(f"[x]({JS})", id="md-link-plain"),
    pytest.param("[the answer](javascript:alert(42))", id="md-link-discourse"),
    pytest.param("[x](JaVaScRiPt:alert(1))", id="md-link-mixed-case"),
    pytest.param("[x](JAVASCRIPT:alert(1))", id="md-link-upper-case"),
    pytest.param("[x](&#106;avascript:alert(1))", id="md-link-decimal-entity"),
    pytest.param("[x](&#0000106;avascript:alert(1))", id="md-link-zero-padded-entity"),
    pytest.param("[x](&#x6A;avascript:alert(1))", id="md-link-hex-entity"),
    pytest.param("[x](&#x6a&#x61vascript:alert(1))", id="md-link-entity-no-semicolon"),
    pytest.param(
        "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
        id="md-link-all-entities",
    ),
    pytest.param("[x](javascript&#58;alert(1))", id="md-link-entity-colon"),
    pytest.param("[x](javascript&colon;alert(1))", id="md-link-named-colon"),
    pytest.param("[x](&#x6A;avascript&#58alert(1))", id="md-link-mixed-semicolons"),
    pytest.param("[x](java\tscript:alert(1))", id="md-link-tab"),
    pytest.param("[x](java&#x09;script:alert(1))", id="md-link-tab-entity"),
    pytest.param("[x](java&#x0A;script:alert(1))", id="md-link-newline-entity"),
    pytest.param("[x](java&#x0D;script:alert(1))", id="md-link-cr-entity"),
    pytest.param("[x](java\x00script:alert(1))", id="md-link-nul"),
    pytest.param("[x](java&#0;script:alert(1))", id="md-link-nul-entity"),
    pytest.param("[x](&#14;javascript:alert(1))", id="md-link-char14-prefix"),
    pytest.param("[x](\x0ejavascript:alert(1))", id="md-link-raw-char14-prefix"),
    pytest.param("[x]( javascript:alert(1))", id="md-link-leading-space"),
    pytest.param("[x](&#32;javascript:alert(1))", id="md-link-leading-space-entity"),
    pytest.param("[x](\njavascript:alert(1))", id="md-link-leading-newline"),
    pytest.param("[x](%6Aavascript:alert(1))", id="md-link-percent-j"),
    pytest.param("[x](javascript%3Aalert(1))", id="md-link-percent-colon"),
    pytest.param("[x](java%09script:alert(1))", id="md-link-percent-tab"),
    pytest.param("[x](<javascript:alert(1)>)", id="md-link-angle-destination"),
    pytest.param("[x](javascript\\:alert(1))", id="md-link-backslash-escape"),
    pytest.param("[x](javascript://%0Aalert(1))", id="md-link-comment-newline"),
    pytest.param("[x](javascript:alert(1) 'title')", id="md-link-with-title"),
    pytest.param("[[x](javascript:alert(1))](https://example.com)", id="md-link-nested"),
    pytest.param("[x](vbscript:msgbox(1))", id="md-link-vbscript"),
    pytest.param("[x](VBScript:msgbox(1))", id="md-link-vbscript-case"),
    pytest.param("[x](livescript:alert(1))", id="md-link-livescript"),
    pytest.param("[x](file:///etc/passwd)", id="md-link-file"),
    pytest.param("[x](data:text/html,<script>alert(1)</script>)", id="md-link-data-html"),
    pytest.param(
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        id="md-link-data-html-base64",
    ),
    pytest.param("[x](data:image/png;base64,iVBORw0KGgo=)", id="md-link-data-image"),
    pytest.param("[x](DATA:text/html,x)", id="md-link-data-upper"),
    pytest.param("[x](blob:https://example.com/uuid)", id="md-link-blob"),
    pytest.param('[x](https://example.com/"onmouseover="alert(1))', id="md-link-quote-break"),
    pytest.param("[x](https://example.com/'onmouseover='alert(1))", id="md-link-apos-break"),
    pytest.param("[<img src=x onerror=alert(1)>](https://example.com)", id="md-link-html-text"),
]

MARKDOWN_TITLES = [
    pytest.param('[x](https://example.com "a\\" onmouseover=\\"alert(1)")', id="title-quote"),
    pytest.param("[x](https://example.com 'a\\' onmouseover=\\'alert(1)')", id="title-apos"),
    pytest.param('[x](https://example.com (a" onmouseover="alert(1)))', id="title-parens"),
    pytest.param('[x](https://example.com "&quot; onmouseover=&quot;alert(1)")', id="title-ent"),
    pytest.param('![x](https://example.com/i.png "a\\" onerror=\\"alert(1)")', id="title-img"),
    pytest.param('![x" onerror="alert(1)](https://example.com/i.png)', id="alt-quote-break"),
    pytest.param("![<script>alert(1)</script>](https://example.com/i.png)", id="alt-script"),
]

AUTOLINKS = [
    pytest.param(f"<{JS}>", id="autolink-javascript"),
    pytest.param("<JAVASCRIPT:alert(1)>", id="autolink-javascript-upper"),
    pytest.param("<javascript:alert(1)//https://example.com>", id="autolink-javascript-suffix"),
    pytest.param("<vbscript:msgbox(1)>", id="autolink-vbscript"),
    pytest.param("<data:text/html,alert(1)>", id="autolink-data"),
    pytest.param("<file:///etc/passwd>", id="autolink-file"),
    pytest.param("<foo:bar>", id="autolink-unknown-scheme"),
    pytest.param('<https://example.com/"onmouseover="alert(1)>', id="autolink-quote"),
    pytest.param("<https://example.com/<script>alert(1)</script>>", id="autolink-script"),
    pytest.param("<mailto:javascript:alert(1)>", id="autolink-mailto-js"),
    pytest.param(JS, id="bare-javascript"),
    pytest.param("https://example.com/<script>alert(1)</script>", id="linkify-script"),
    pytest.param('https://example.com/"onmouseover="alert(1)', id="linkify-quote"),
    pytest.param("www.example.com/'onmouseover='alert(1)", id="linkify-www-apos"),
    pytest.param("javascript://example.com/%0Aalert(1)", id="linkify-javascript-host"),
    pytest.param("https://example.com&#x2F;&quot;&gt;&lt;script&gt;", id="linkify-entities"),
]

IMAGES = [
    pytest.param(f"![x]({JS})", id="img-javascript"),
    pytest.param("![x](JaVaScRiPt:alert(1))", id="img-javascript-case"),
    pytest.param("![x](&#x6A;avascript:alert(1))", id="img-javascript-entity"),
    pytest.param("![x](data:image/png;base64,iVBORw0KGgo=)", id="img-data-png"),
    pytest.param("![x](data:image/gif;base64,R0lGODlhAQABAAAAACw=)", id="img-data-gif"),
    pytest.param(
        "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+PC9zdmc+)", id="img-data-svg"
    ),
    pytest.param("![x](data:text/html,<script>alert(1)</script>)", id="img-data-html"),
    pytest.param("![x](vbscript:msgbox(1))", id="img-vbscript"),
    pytest.param("![x](file:///etc/passwd)", id="img-file"),
    pytest.param("[![x](javascript:alert(1))](javascript:alert(2))", id="img-in-link"),
]

REFERENCES = [
    pytest.param("[x][1]\n\n[1]: javascript:alert(1)", id="ref-javascript"),
    pytest.param("[x][1]\n\n[1]: <javascript:alert(1)>", id="ref-angle"),
    pytest.param("[x][1]\n\n[1]: JaVaScRiPt:alert(1)", id="ref-case"),
    pytest.param("[x][1]\n\n[1]: &#106;avascript:alert(1)", id="ref-entity"),
    pytest.param("[x][1]\n\n[1]: data:text/html,alert(1)", id="ref-data"),
    pytest.param("[x]\n\n[x]: javascript:alert(1)", id="ref-shortcut"),
    pytest.param("[x][]\n\n[x]: vbscript:msgbox(1)", id="ref-collapsed"),
    pytest.param("![x][1]\n\n[1]: javascript:alert(1)", id="ref-image"),
    pytest.param(
        '[x][1]\n\n[1]: https://example.com "a\\" onmouseover=\\"alert(1)"', id="ref-title"
    ),
    pytest.param("[x][1]\n\n[1]:\n  javascript:alert(1)", id="ref-next-line"),
]

# Raw HTML: markdown-it shows it as text; sanitise_html must clean it on its own.
RAW_HTML = [
    pytest.param("hello<script>alert(42)</script>", id="html-script"),
    pytest.param("<div><script>alert(1)</script></div>", id="html-script-in-div"),
    pytest.param('<SCRIPT SRC="https://xss.example/xss.js"></SCRIPT>', id="html-script-src"),
    pytest.param(
        '<SCRIPT/XSS SRC="https://xss.example/xss.js"></SCRIPT>', id="html-script-slash-xss"
    ),
    pytest.param('<SCRIPT/SRC="https://xss.example/xss.js"></SCRIPT>', id="html-script-slash-src"),
    pytest.param('<<SCRIPT>alert("XSS");//<</SCRIPT>', id="html-double-open"),
    pytest.param("<SCRIPT SRC=https://xss.example/xss.js?< B >", id="html-script-no-close"),
    pytest.param("<SCRIPT SRC=//xss.example/.j>", id="html-script-protocol-relative"),
    pytest.param('<IMG SRC="javascript:alert(1)"', id="html-img-half-open"),
    pytest.param("<iframe src=https://xss.example/scriptlet.html <", id="html-iframe-half-open"),
    pytest.param('<IMG SRC="javascript:alert(1);">', id="html-img-javascript"),
    pytest.param("<IMG SRC=JaVaScRiPt:alert(1)>", id="html-img-mixed-case"),
    pytest.param("<IMG SRC=`javascript:alert(1)`>", id="html-img-backticks"),
    pytest.param('<IMG """><SCRIPT>alert(1)</SCRIPT>">', id="html-img-malformed-quotes"),
    pytest.param(
        "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>", id="html-img-fromcharcode"
    ),
    pytest.param("<IMG SRC=# onmouseover=alert(1)>", id="html-img-onmouseover"),
    pytest.param("<IMG SRC= onmouseover=alert(1)>", id="html-img-empty-src-onmouseover"),
    pytest.param("<IMG onmouseover=alert(1)>", id="html-img-no-src-onmouseover"),
    pytest.param("<IMG SRC=/ onerror=alert(1)></img>", id="html-img-onerror"),
    pytest.param("<img src=x onerror=alert(1)>", id="html-img-onerror-lower"),
    pytest.param('<img src="x" onerror="alert(1)"/>', id="html-img-onerror-self-closing"),
    pytest.param("<img src=x onerror\x0b=alert(1)>", id="html-img-onerror-vtab"),
    pytest.param("<img/src=x/onerror=alert(1)>", id="html-img-slashes"),
    pytest.param(
        "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;"
        "&#114;&#116;&#40;&#49;&#41;>",
        id="html-img-decimal-entities",
    ),
    pytest.param(
        "<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105"
        "&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040"
        "&#0000049&#0000041>",
        id="html-img-zero-padded-entities",
    ),
    pytest.param(
        "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72"
        "&#x74&#x28&#x31&#x29>",
        id="html-img-hex-entities-no-semicolon",
    ),
    pytest.param('<IMG SRC="jav\tascript:alert(1);">', id="html-img-tab"),
    pytest.param('<IMG SRC="jav&#x09;ascript:alert(1);">', id="html-img-tab-entity"),
    pytest.param('<IMG SRC="jav&#x0A;ascript:alert(1);">', id="html-img-newline-entity"),
    pytest.param('<IMG SRC="jav&#x0D;ascript:alert(1);">', id="html-img-cr-entity"),
    pytest.param('<IMG SRC="java\x00script:alert(1)">', id="html-img-nul"),
    pytest.param('<IMG SRC=" &#14;  javascript:alert(1);">', id="html-img-char14-prefix"),
    pytest.param('<IMG SRC="&#14;javascript:alert(1)">', id="html-img-char14-only"),
    pytest.param('<IMG DYNSRC="javascript:alert(1)">', id="html-img-dynsrc"),
    pytest.param('<IMG LOWSRC="javascript:alert(1)">', id="html-img-lowsrc"),
    pytest.param('<IMG SRC="livescript:[code]">', id="html-img-livescript"),
    pytest.param("<IMG SRC='vbscript:msgbox(\"XSS\")'>", id="html-img-vbscript"),
    pytest.param('<img src="data:image/svg+xml,<svg onload=alert(1)>">', id="html-img-data-svg"),
    pytest.param('<img srcset="javascript:alert(1) 1x">', id="html-img-srcset"),
    pytest.param('<a href="javascript:alert(1)">x</a>', id="html-a-javascript"),
    pytest.param('<a href="  javascript:alert(1)">x</a>', id="html-a-leading-space"),
    pytest.param('<a href="&#14;javascript:alert(1)">x</a>', id="html-a-char14"),
    pytest.param('<a href="java&#09;script:alert(1)">x</a>', id="html-a-tab-entity"),
    pytest.param('<a href="java&Tab;script&colon;alert(1)">x</a>', id="html-a-named-entities"),
    pytest.param('<a href="&#x6A;avascript&#x3A;alert(1)">x</a>', id="html-a-hex-entities"),
    pytest.param('<a href="javascript&#0000058alert(1)">x</a>', id="html-a-padded-colon"),
    pytest.param('<a href="&#x6A;avascript&#58alert(1)">x</a>', id="html-a-mixed-semicolons"),
    pytest.param('<a href="&#x6A;avascript&colon;alert(1)">x</a>', id="html-a-html5-named-colon"),
    pytest.param('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', id="html-a-data"),
    pytest.param('<a href="vbscript:msgbox(1)">x</a>', id="html-a-vbscript"),
    pytest.param('<a href="file:///etc/passwd">x</a>', id="html-a-file"),
    pytest.param('<a href="https://example.com" onclick="alert(1)">x</a>', id="html-a-onclick"),
    pytest.param(
        '<a href="https://example.com" target="_blank" rel="opener">x</a>', id="html-a-rel-opener"
    ),
    pytest.param('<a href="https://example.com" style="position:fixed">x</a>', id="html-a-style"),
    pytest.param('<a title="a&quot; onmouseover=&quot;alert(1)">x</a>', id="html-a-title-entities"),
    pytest.param("<a href='https://example.com'onmouseover=alert(1)>x</a>", id="html-a-no-space"),
    pytest.param("<svg onload=alert(1)>", id="html-svg-onload"),
    pytest.param("<svg/onload=alert(1)>", id="html-svg-slash-onload"),
    pytest.param("<svg><script>alert(1)</script></svg>", id="html-svg-script"),
    pytest.param(
        '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>', id="html-svg-a"
    ),
    pytest.param(
        "<svg><animate onbegin=alert(1) attributeName=x dur=1s>", id="html-svg-animate-onbegin"
    ),
    pytest.param(
        '<svg><set attributeName="href" to="javascript:alert(1)"/></svg>', id="html-svg-set-href"
    ),
    pytest.param('<math><mi xlink:href="javascript:alert(1)">x</mi></math>', id="html-math-xlink"),
    pytest.param(
        '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction>',
        id="html-math-maction",
    ),
    pytest.param('<iframe src="javascript:alert(1)"></iframe>', id="html-iframe-javascript"),
    pytest.param('<iframe srcdoc="<script>alert(1)</script>"></iframe>', id="html-iframe-srcdoc"),
    pytest.param('<IFRAME SRC=# onmouseover="alert(1)"></IFRAME>', id="html-iframe-event"),
    pytest.param('<FRAMESET><FRAME SRC="javascript:alert(1);"></FRAMESET>', id="html-frameset"),
    pytest.param('<object data="javascript:alert(1)"></object>', id="html-object-data"),
    pytest.param(
        '<OBJECT TYPE="text/x-scriptlet" DATA="https://xss.example/scriptlet.html"></OBJECT>',
        id="html-object-scriptlet",
    ),
    pytest.param('<embed src="javascript:alert(1)">', id="html-embed-javascript"),
    pytest.param(
        '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">', id="html-embed-svg"
    ),
    pytest.param("<style>body{background:url(javascript:alert(1))}</style>", id="html-style-url"),
    pytest.param("<STYLE>@import'https://xss.example/xss.css';</STYLE>", id="html-style-import"),
    pytest.param(
        '<STYLE>li {list-style-image: url("javascript:alert(1)");}</STYLE><UL><LI>x',
        id="html-style-list-image",
    ),
    pytest.param(
        '<DIV STYLE="background-image: url(javascript:alert(1))">', id="html-div-style-url"
    ),
    pytest.param('<DIV STYLE="width: expression(alert(1));">', id="html-div-style-expression"),
    pytest.param(
        '<p class="funky" wrong=\'1\' style="x:expression(alert(1))">x</p>', id="html-p-attrs"
    ),
    pytest.param('<XSS STYLE="behavior: url(xss.htc);">', id="html-xss-behavior"),
    pytest.param('<LINK REL="stylesheet" HREF="javascript:alert(1);">', id="html-link-stylesheet"),
    pytest.param('<BASE HREF="javascript:alert(1);//">', id="html-base-href"),
    pytest.param(
        '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(1);">', id="html-meta-refresh"
    ),
    pytest.param(
        '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,PHNjcmlwdD4=">',
        id="html-meta-refresh-data",
    ),
    pytest.param(
        '<META HTTP-EQUIV="Set-Cookie" Content="USERID=<SCRIPT>alert(1)</SCRIPT>">',
        id="html-meta-cookie",
    ),
    pytest.param("<BODY ONLOAD=alert(1)>", id="html-body-onload"),
    pytest.param('<BODY BACKGROUND="javascript:alert(1)">', id="html-body-background"),
    pytest.param('<TABLE BACKGROUND="javascript:alert(1)"><TR><TD>x', id="html-table-background"),
    pytest.param('<TD BACKGROUND="javascript:alert(1)">', id="html-td-background"),
    pytest.param('<INPUT TYPE="IMAGE" SRC="javascript:alert(1);">', id="html-input-image"),
    pytest.param("<input autofocus onfocus=alert(1)>", id="html-input-autofocus"),
    pytest.param(
        '<form><button formaction="javascript:alert(1)">x</button></form>', id="html-button"
    ),
    pytest.param('<form action="javascript:alert(1)"><input type=submit></form>', id="html-form"),
    pytest.param("<details open ontoggle=alert(1)>", id="html-details-ontoggle"),
    pytest.param("<video><source onerror=alert(1)></video>", id="html-video-source"),
    pytest.param('<video poster="javascript:alert(1)">', id="html-video-poster"),
    pytest.param("<audio src=x onerror=alert(1)>", id="html-audio-onerror"),
    pytest.param("<marquee onstart=alert(1)>x</marquee>", id="html-marquee"),
    pytest.param('<BGSOUND SRC="javascript:alert(1);">', id="html-bgsound"),
    pytest.param('<BR SIZE="&{alert(1)}">', id="html-br-size"),
    pytest.param('<LAYER SRC="https://xss.example/scriptlet.html"></LAYER>', id="html-layer"),
    pytest.param("<isindex type=image src=1 onerror=alert(1)>", id="html-isindex"),
    pytest.param("<keygen autofocus onfocus=alert(1)>", id="html-keygen"),
    pytest.param(
        '<object><param name="src" value="javascript:alert(1)"></object>', id="html-param"
    ),
    pytest.param('<applet code="x"></applet>', id="html-applet"),
    pytest.param("<textarea><script>alert(1)</script></textarea>", id="html-textarea"),
    pytest.param("<button>x</button><canvas></canvas><progress></progress>", id="html-widgets"),
    pytest.param('<center><font color="red">x</font></center>', id="html-center-font"),
    pytest.param("<title><script>alert(1)</script></title>", id="html-title-element"),
    pytest.param("<xmp><script>alert(1)</script></xmp>", id="html-xmp"),
    pytest.param("<plaintext><script>alert(1)</script>", id="html-plaintext"),
    pytest.param(
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>">', id="html-noscript"
    ),
    pytest.param(
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        id="html-math-mglyph-mxss",
    ),
    pytest.param(
        '<svg></p><style><a id="html-</style><img src=1 onerror=alert(1)>">',
        id="html-svg-style-mxss",
    ),
    pytest.param(
        "<table><tr><td><style><img src=x onerror=alert(1)></style>", id="html-table-style-mxss"
    ),
    pytest.param("<!--<script>alert(1)</script>-->", id="html-comment-script"),
    pytest.param("<!-- --!><script>alert(1)</script>", id="html-comment-bang-close"),
    pytest.param("<!--><script>alert(1)</script>-->", id="html-comment-abrupt"),
    pytest.param('<i class="x" style="color:red"></i>\n<!-- -->', id="html-comment-smuggle"),
    pytest.param(
        "<!--[if gte IE 4]><SCRIPT>alert(1);</SCRIPT><![endif]-->", id="html-comment-cond"
    ),
    pytest.param("<![CDATA[<script>alert(1)</script>]]>", id="html-cdata"),
    pytest.param(
        '<?xml version="1.0"?><script>alert(1)</script>', id="html-processing-instruction"
    ),
    pytest.param("<? echo('<SCR)';echo('IPT>alert(1)</SCRIPT>'); ?>", id="html-php-tag"),
    pytest.param(
        '<HTML xmlns:xss><?import namespace="xss" implementation="x.htc"><xss:xss>',
        id="html-html-import",
    ),
    pytest.param(
        '<XML ID="I"><X><C><![CDATA[<IMG SRC="javas]]><![CDATA[cript:alert(1);">]]></C></X></xml>',
        id="html-xml-data-island",
    ),
    pytest.param(
        '<a href="https://example.com"><a href="javascript:alert(1)">x</a></a>',
        id="html-nested-anchors",
    ),
    pytest.param('<code class="language-x&quot; onclick=alert(1)">y</code>', id="html-code-class"),
    pytest.param(
        '<code class="language-python" onclick="alert(1)">y</code>', id="html-code-onclick"
    ),
    pytest.param('<ol start="1" onclick="alert(1)" type="a"><li>x</li></ol>', id="html-ol-onclick"),
    pytest.param('<abbr title="x" onmouseover="alert(1)">x</abbr>', id="html-abbr-onmouseover"),
    pytest.param(
        '<SCRIPT>document.write("<SCRI");</SCRIPT>PT SRC="//xss.example">', id="html-split-script"
    ),
    pytest.param("<scr<script>ipt>alert(1)</scr</script>ipt>", id="html-script-inside-script"),
    pytest.param(
        '<img src="https://example.com/x.png" alt="x" onload="alert(1)">', id="html-img-load"
    ),
]

CODE = [
    pytest.param("`<script>alert(1)</script>`", id="code-span-script"),
    pytest.param("`` <img src=x onerror=alert(1)> ``", id="code-span-double-backticks"),
    pytest.param("`[x](javascript:alert(1))`", id="code-span-md-link"),
    pytest.param("```\n<script>alert(1)</script>\n```", id="fence-script"),
    pytest.param("```html\n<svg onload=alert(1)>\n```", id="fence-html-svg"),
    pytest.param("~~~\n<iframe src=javascript:alert(1)>\n~~~", id="fence-tildes-iframe"),
    pytest.param('    <a href="javascript:alert(1)">x</a>', id="indented-anchor"),
    pytest.param('```x" onclick="alert(1)\ny\n```', id="fence-info-quote"),
    pytest.param("```javascript:alert(1)\ny\n```", id="fence-info-javascript"),
    pytest.param("```\n</code></pre><script>alert(1)</script>\n```", id="fence-close-early"),
]

# Markdown that wraps raw HTML, so the escaping markdown layer is the only thing between them.
MIXED = [
    pytest.param("# <script>alert(1)</script>", id="heading-script"),
    pytest.param("> <img src=x onerror=alert(1)>", id="quote-img"),
    pytest.param("* <svg onload=alert(1)>", id="list-svg"),
    pytest.param("| <script> | b |\n|---|---|\n| <img src=x onerror=alert(1)> | 2 |", id="table"),
    pytest.param("**<a href=javascript:alert(1)>x</a>**", id="strong-anchor"),
    pytest.param("~~<iframe src=javascript:alert(1)>~~", id="strike-iframe"),
    pytest.param("&lt;script&gt;alert(1)&lt;/script&gt;", id="escaped-entities"),
    pytest.param("&#60;script&#62;alert(1)&#60;/script&#62;", id="numeric-entities"),
    pytest.param("\\<script>alert(1)\\</script>", id="backslash-escaped"),
    pytest.param("<https://example.com><script>alert(1)</script>", id="autolink-then-script"),
    pytest.param("[x](https://example.com)<!--\n-->[y](javascript:alert(1))", id="comment-md"),
]

CORPUS = (
    MARKDOWN_LINKS + MARKDOWN_TITLES + AUTOLINKS + IMAGES + REFERENCES + RAW_HTML + CODE + MIXED
)


# -- the corpus, rendered ----------------------------------------------------------------------


@pytest.mark.parametrize("source", CORPUS)
def test_rendered_markdown_has_nothing_executable(source: str) -> None:
    html = render_markdown(source)
    assert findings(html) == [], html


@pytest.mark.parametrize("source", CORPUS)
def test_sanitised_html_has_nothing_executable(source: str) -> None:
    html = sanitise_html(source)
    assert findings(html) == [], html


@pytest.mark.parametrize("source", CORPUS)
def test_sanitising_is_idempotent(source: str) -> None:
    rendered = render_markdown(source)
    assert sanitise_html(rendered) == rendered
    cleaned = sanitise_html(source)
    assert sanitise_html(cleaned) == cleaned


@pytest.mark.parametrize("source", CORPUS)
def test_every_link_is_marked_user_generated(source: str) -> None:
    for html in (render_markdown(source), sanitise_html(source)):
        for link in inspect(html).links:
            assert link.get("rel") == REL, html


def test_javascript_link_is_not_created_at_all() -> None:
    assert render_markdown("[the answer](javascript:alert(42))") == (
        "<p>[the answer](javascript:alert(42))</p>"
    )


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](file:///etc/passwd)",
        "[x](data:text/html,alert(1))",
        "<javascript:alert(1)>",
        "[x][1]\n\n[1]: javascript:alert(1)",
    ],
)
def test_dangerous_markdown_links_are_left_as_text(source: str) -> None:
    html = render_markdown(source)
    assert "<a" not in html
    assert "alert(1)" in html or "msgbox(1)" in html or "/etc/passwd" in html


def test_data_image_keeps_its_alt_text_but_loses_its_source() -> None:
    """markdown-it allows data:image/png; our policy is stricter."""
    assert render_markdown("![a chart](data:image/png;base64,iVBORw0KGgo=)") == (
        '<p><img alt="a chart"></p>'
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("hello<script>alert(42)</script>", "helloalert(42)"),  # inert text, never a script
        ("<p class=\"funky\" wrong='1'>x</p>", "<p>x</p>"),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="nofollow ugc noopener">x</a>'),
        (
            '<a href="https://example.com" target="_blank" rel="opener" onclick="x()">x</a>',
            '<a href="https://example.com" rel="nofollow ugc noopener">x</a>',
        ),
        ('<img src="javascript:alert(1)" alt="x">', '<img alt="x">'),
        ('<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">', '<img alt="x">'),
        ('<svg onload="alert(1)"></svg>after', "after"),
        ("<iframe src=https://example.com></iframe>", ""),
        ('<code class="language-x&quot; onclick=alert(1)">y</code>', "<code>y</code>"),
        ('<code class="language-python extra">y</code>', "<code>y</code>"),
        ('<ol start="2 onclick=alert(1)"><li>x</li></ol>', "<ol><li>x</li></ol>"),
        ('<ol start="2"><li>x</li></ol>', '<ol start="2"><li>x</li></ol>'),
        ("<!-- secret --><b>x</b>", "<b>x</b>"),
    ],
)
def test_sanitiser_drops_exactly_what_it_should(source: str, expected: str) -> None:
    assert sanitise_html(source) == expected


# -- code shows payloads as text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("`<script>alert(1)</script>`", "<script>alert(1)</script>"),
        ("`` <img src=x onerror=alert(1)> ``", "<img src=x onerror=alert(1)>"),
        ("`[x](javascript:alert(1))`", "[x](javascript:alert(1))"),
        ("`https://example.com/x`", "https://example.com/x"),
        ("```\n<script>alert(1)</script>\n```", "<script>alert(1)</script>\n"),
        ("```html\n<svg onload=alert(1)>\n```", "<svg onload=alert(1)>\n"),
        ("~~~\n<!-- x --><style>p{}</style>\n~~~", "<!-- x --><style>p{}</style>\n"),
        ('    <a href="javascript:alert(1)">x</a>', '<a href="javascript:alert(1)">x</a>\n'),
        ("```\nsee https://example.com/x\n```", "see https://example.com/x\n"),
        (
            "```\n</code></pre><script>alert(1)</script>\n```",
            "</code></pre><script>alert(1)</script>\n",
        ),
    ],
)
def test_code_shows_payloads_as_text(source: str, text: str) -> None:
    html = render_markdown(source)
    assert code_texts(html) == [text]
    assert "<a" not in html  # URLs inside code are not linkified
    assert findings(html) == []


def test_code_span_payload_is_escaped_not_stripped() -> None:
    assert render_markdown("`<script>alert(1)</script>`") == (
        "<p><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></p>"
    )
    assert render_markdown("```\n<img src=x onerror=alert(1)>\n```") == (
        "<pre><code>&lt;img src=x onerror=alert(1)&gt;\n</code></pre>"
    )


# -- what must keep working --------------------------------------------------------------------


def test_commonmark_emphasis() -> None:
    assert render_markdown("*em* _also em_ **strong** __also strong__ ***both***") == (
        "<p><em>em</em> <em>also em</em> <strong>strong</strong> <strong>also strong</strong> "
        "<em><strong>both</strong></em></p>"
    )


def test_fenced_code_keeps_its_language_class() -> None:
    assert render_markdown("```python\nprint('hi')\n```") == (
        "<pre><code class=\"language-python\">print('hi')\n</code></pre>"
    )


@pytest.mark.parametrize("language", ["c++", "c#", "objective-c", "vue.js", "shell_session"])
def test_fenced_code_keeps_unusual_language_names(language: str) -> None:
    assert f'<code class="language-{language}">' in render_markdown(f"```{language}\nx\n```")


@pytest.mark.parametrize(
    "info",
    [
        'x" onclick="alert(1)',
        'x"onclick="alert(1)"',
        "x'onclick='alert(1)'",
        "x&quot;onclick=alert(1)",
        "x<script>",
        "a" * 41,
    ],
)
def test_fenced_code_drops_hostile_language_class(info: str) -> None:
    html = render_markdown(f"```{info}\ny\n```")
    assert html == "<pre><code>y\n</code></pre>"


def test_tables() -> None:
    assert render_markdown("| a | b |\n|---|:-:|\n| 1 | *2* |") == (
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
        "<tbody>\n<tr>\n<td>1</td>\n<td><em>2</em></td>\n</tr>\n</tbody>\n</table>"
    )


def test_table_alignment_style_is_dropped() -> None:
    html = render_markdown("| a |\n|:-:|\n| 1 |")
    assert "style" not in html
    assert "<th>a</th>" in html


def test_strikethrough() -> None:
    assert render_markdown("~~gone~~ here") == "<p><s>gone</s> here</p>"


def test_autolink() -> None:
    assert render_markdown("<https://example.com>") == (
        '<p><a href="https://example.com" rel="nofollow ugc noopener">https://example.com</a></p>'
    )


def test_markdown_link_with_title() -> None:
    assert render_markdown('[docs](https://example.com/docs "The docs")') == (
        '<p><a href="https://example.com/docs" title="The docs" rel="nofollow ugc noopener">'
        "docs</a></p>"
    )


def test_link_title_with_quotes_stays_inside_the_attribute() -> None:
    html = render_markdown('[x](https://example.com "a\\" onmouseover=\\"alert(1)")')
    assert html == (
        '<p><a href="https://example.com" title="a&quot; onmouseover=&quot;alert(1)" '
        'rel="nofollow ugc noopener">x</a></p>'
    )


@pytest.mark.parametrize(
    ("source", "href"),
    [
        ("see https://example.com/docs/x now", "https://example.com/docs/x"),
        ("see http://example.com now", "http://example.com"),
        ("see www.example.com now", "http://www.example.com"),
        ("(https://example.com/a_b)", "https://example.com/a_b"),
    ],
)
def test_bare_urls_are_linkified(source: str, href: str) -> None:
    html = render_markdown(source)
    links = inspect(html).links
    assert links == [{"href": href, "rel": REL}], html


def test_linkified_url_with_query_is_escaped_once() -> None:
    html = render_markdown("https://example.com/a?b=1&c=2")
    assert html == (
        '<p><a href="https://example.com/a?b=1&amp;c=2" rel="nofollow ugc noopener">'
        "https://example.com/a?b=1&amp;c=2</a></p>"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "[write to us](mailto:help@example.com)",
            '<p><a href="mailto:help@example.com" rel="nofollow ugc noopener">write to us</a></p>',
        ),
        (
            "<help@example.com>",
            '<p><a href="mailto:help@example.com" rel="nofollow ugc noopener">'
            "help@example.com</a></p>",
        ),
    ],
)
def test_mailto_links(source: str, expected: str) -> None:
    assert render_markdown(source) == expected


def test_https_image_keeps_its_alt_text() -> None:
    assert render_markdown('![A diagram](https://example.com/d.png "Flow")') == (
        '<p><img src="https://example.com/d.png" alt="A diagram" title="Flow"></p>'
    )


def test_relative_links_and_images_are_kept() -> None:
    html = render_markdown("[next](/docs/next) ![x](img/x.png)")
    assert html == (
        '<p><a href="/docs/next" rel="nofollow ugc noopener">next</a> '
        '<img src="img/x.png" alt="x"></p>'
    )


def test_reference_links_with_safe_urls_work() -> None:
    assert render_markdown("[the docs][d]\n\n[d]: https://example.com/docs") == (
        '<p><a href="https://example.com/docs" rel="nofollow ugc noopener">the docs</a></p>'
    )


def test_block_elements() -> None:
    source = "## Title\n\n> quoted\n\n1. one\n2. two\n\n---\n\nline  \nbreak `x`"
    assert render_markdown(source) == (
        "<h2>Title</h2>\n<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        "<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n<hr>\n<p>line<br>\nbreak <code>x</code></p>"
    )


def test_ordered_list_start_is_kept() -> None:
    assert render_markdown("3. three\n4. four").startswith('<ol start="3">')


def test_raw_html_is_shown_as_text() -> None:
    assert render_markdown("a <b>bold</b> claim") == "<p>a &lt;b&gt;bold&lt;/b&gt; claim</p>"
