"""Which documentation page a URL is: :func:`normalise_page_url`.

Every write and every read goes through it, so two spellings of one page must give one string,
and a normalised URL must come back unchanged.
"""

from __future__ import annotations

import pytest

from community.questions.pages import MAX_URL_LENGTH, InvalidPageURL, normalise_page_url

DOCS = "https://docs.example.com"

NORMALISED = [
    # trailing slashes and index files
    pytest.param(f"{DOCS}/guide/", f"{DOCS}/guide", id="trailing-slash"),
    pytest.param(f"{DOCS}/guide", f"{DOCS}/guide", id="already-normal"),
    pytest.param(f"{DOCS}/guide/index.html", f"{DOCS}/guide", id="index-html"),
    pytest.param(f"{DOCS}/guide/index.htm", f"{DOCS}/guide", id="index-htm"),
    pytest.param(f"{DOCS}/guide/INDEX.HTML", f"{DOCS}/guide", id="index-html-upper"),
    pytest.param(f"{DOCS}/guide/index.html/", f"{DOCS}/guide", id="index-html-slash"),
    pytest.param(f"{DOCS}/guide/%69ndex.html", f"{DOCS}/guide", id="index-html-escaped"),
    pytest.param(f"{DOCS}/index.html/guide", f"{DOCS}/index.html/guide", id="index-not-last"),
    pytest.param(f"{DOCS}/guide/index.php", f"{DOCS}/guide/index.php", id="index-php-kept"),
    pytest.param(f"{DOCS}/guide/myindex.html", f"{DOCS}/guide/myindex.html", id="not-index"),
    # query and fragment
    pytest.param(f"{DOCS}/guide?utm_source=x&b=1", f"{DOCS}/guide", id="query"),
    pytest.param(f"{DOCS}/guide#setup", f"{DOCS}/guide", id="fragment"),
    pytest.param(f"{DOCS}/guide/?a=1#b", f"{DOCS}/guide", id="query-and-fragment"),
    pytest.param(f"{DOCS}/guide/index.html?x#y", f"{DOCS}/guide", id="index-query-fragment"),
    pytest.param(f"{DOCS}/guide?", f"{DOCS}/guide", id="empty-query"),
    pytest.param(f"{DOCS}/guide#", f"{DOCS}/guide", id="empty-fragment"),
    pytest.param(f"{DOCS}/guide#/other/page", f"{DOCS}/guide", id="fragment-with-path"),
    # scheme and host case
    pytest.param("https://Docs.Example.COM/guide", f"{DOCS}/guide", id="host-case"),
    pytest.param("HTTPS://docs.example.com/guide", f"{DOCS}/guide", id="scheme-case"),
    pytest.param("HtTp://DOCS.example.com/Guide", "http://docs.example.com/Guide", id="both"),
    pytest.param(f"{DOCS}/Guide/API", f"{DOCS}/Guide/API", id="path-case-kept"),
    pytest.param("https://docs.example.com./guide", f"{DOCS}/guide", id="host-trailing-dot"),
    pytest.param(f"  {DOCS}/guide \n", f"{DOCS}/guide", id="surrounding-whitespace"),
    # ports
    pytest.param("http://docs.example.com:80/guide", "http://docs.example.com/guide", id="p80"),
    pytest.param("https://docs.example.com:443/guide", f"{DOCS}/guide", id="port-443"),
    pytest.param("https://docs.example.com:0443/guide", f"{DOCS}/guide", id="port-0443"),
    pytest.param("https://docs.example.com:/guide", f"{DOCS}/guide", id="port-empty"),
    pytest.param(
        "http://docs.example.com:443/guide", "http://docs.example.com:443/guide", id="http-443"
    ),
    pytest.param(
        "https://docs.example.com:80/guide", "https://docs.example.com:80/guide", id="https-80"
    ),
    pytest.param(
        "https://docs.example.com:8443/guide", "https://docs.example.com:8443/guide", id="p8443"
    ),
    pytest.param("http://localhost:5000/docs/", "http://localhost:5000/docs", id="localhost"),
    pytest.param("https://127.0.0.1:8080/a", "https://127.0.0.1:8080/a", id="ipv4"),
    pytest.param("https://[::1]/a", "https://[::1]/a", id="ipv6"),
    pytest.param("https://[0:0::1]:8443/a", "https://[::1]:8443/a", id="ipv6-compressed"),
    pytest.param("https://[2001:DB8::A]:443/a", "https://[2001:db8::a]/a", id="ipv6-case-port"),
    # percent-encoding
    pytest.param(f"{DOCS}/%7euser", f"{DOCS}/~user", id="tilde-lower-hex"),
    pytest.param(f"{DOCS}/%7Euser", f"{DOCS}/~user", id="tilde-upper-hex"),
    pytest.param(f"{DOCS}/~user", f"{DOCS}/~user", id="tilde"),
    pytest.param(f"{DOCS}/%41%62%2D%5f%2e", f"{DOCS}/Ab-_.", id="unreserved-decoded"),
    pytest.param(f"{DOCS}/a%3fb", f"{DOCS}/a%3Fb", id="question-mark-kept-escaped"),
    pytest.param(f"{DOCS}/a%23b", f"{DOCS}/a%23b", id="hash-kept-escaped"),
    pytest.param(f"{DOCS}/a%2fb", f"{DOCS}/a%2Fb", id="slash-kept-escaped-lower"),
    pytest.param(f"{DOCS}/a%2Fb", f"{DOCS}/a%2Fb", id="slash-kept-escaped"),
    pytest.param(f"{DOCS}/a%2F..%2Fb", f"{DOCS}/a%2F..%2Fb", id="escaped-slash-dots"),
    pytest.param(f"{DOCS}/a%20b", f"{DOCS}/a%20b", id="space-escaped"),
    pytest.param(f"{DOCS}/a b", f"{DOCS}/a%20b", id="space-raw"),
    pytest.param(f"{DOCS}/a%e2%82%ac", f"{DOCS}/a%E2%82%AC", id="hex-upper-cased"),
    pytest.param(f"{DOCS}/a\u20ac", f"{DOCS}/a%E2%82%AC", id="non-ascii-utf8"),
    pytest.param(f"{DOCS}/caf%C3%A9", f"{DOCS}/caf%C3%A9", id="utf8-escaped"),
    pytest.param(f"{DOCS}/caf\u00e9", f"{DOCS}/caf%C3%A9", id="utf8-raw"),
    pytest.param(f"{DOCS}/\u65e5\u672c", f"{DOCS}/%E6%97%A5%E6%9C%AC", id="cjk"),
    pytest.param(f"{DOCS}/%ff", f"{DOCS}/%FF", id="non-utf8-byte"),
    pytest.param(f"{DOCS}/a%", f"{DOCS}/a%25", id="lone-percent"),
    pytest.param(f"{DOCS}/a%zz", f"{DOCS}/a%25zz", id="bad-escape"),
    pytest.param(f"{DOCS}/a%2Bb", f"{DOCS}/a+b", id="plus-decoded"),
    pytest.param(f"{DOCS}/a;v=1", f"{DOCS}/a;v=1", id="sub-delims-kept"),
    pytest.param(f"{DOCS}/a:b@c", f"{DOCS}/a:b@c", id="colon-at-kept"),
    pytest.param(f'{DOCS}/a"<b>', f"{DOCS}/a%22%3Cb%3E", id="quotes-brackets-escaped"),
    pytest.param(f"{DOCS}/a\\b", f"{DOCS}/a%5Cb", id="backslash-escaped"),
    # dot segments and repeated slashes
    pytest.param(f"{DOCS}/a/./b", f"{DOCS}/a/b", id="dot"),
    pytest.param(f"{DOCS}/a/b/../c", f"{DOCS}/a/c", id="dot-dot"),
    pytest.param(f"{DOCS}/a/b/..", f"{DOCS}/a", id="dot-dot-last"),
    pytest.param(f"{DOCS}/../../a", f"{DOCS}/a", id="dot-dot-above-root"),
    pytest.param(f"{DOCS}/a/%2e%2E/b", f"{DOCS}/b", id="escaped-dot-dot"),
    pytest.param(f"{DOCS}/a/%2E/b", f"{DOCS}/a/b", id="escaped-dot"),
    pytest.param(f"{DOCS}/a../b", f"{DOCS}/a../b", id="dots-in-name"),
    pytest.param(f"{DOCS}/.well-known/x", f"{DOCS}/.well-known/x", id="leading-dot-name"),
    pytest.param(f"{DOCS}//a///b//", f"{DOCS}/a/b", id="repeated-slashes"),
    pytest.param(f"{DOCS}/a/./../b/.//index.html", f"{DOCS}/b", id="everything"),
    # the root
    pytest.param(DOCS, f"{DOCS}/", id="root-bare"),
    pytest.param(f"{DOCS}/", f"{DOCS}/", id="root-slash"),
    pytest.param(f"{DOCS}//", f"{DOCS}/", id="root-slashes"),
    pytest.param(f"{DOCS}/index.html", f"{DOCS}/", id="root-index"),
    pytest.param(f"{DOCS}?q=1#top", f"{DOCS}/", id="root-query"),
    pytest.param(f"{DOCS}/..", f"{DOCS}/", id="root-dot-dot"),
    pytest.param("HTTPS://DOCS.EXAMPLE.COM:443", f"{DOCS}/", id="root-everything"),
    # internationalised host names
    pytest.param("https://b\u00fccher.example/x", "https://xn--bcher-kva.example/x", id="idn"),
    pytest.param("https://B\u00dcCHER.example/x", "https://xn--bcher-kva.example/x", id="idn-up"),
    pytest.param("https://xn--bcher-kva.example/x", "https://xn--bcher-kva.example/x", id="a-lbl"),
    pytest.param("https://XN--BCHER-KVA.example/x", "https://xn--bcher-kva.example/x", id="a-up"),
    pytest.param(
        "https://\u4f8b\u3048.\u30c6\u30b9\u30c8/",
        "https://xn--r8jz45g.xn--zckzah/",
        id="idn-japanese",
    ),
    pytest.param(
        "https://\uff44\uff4f\uff43\uff53.example.com/x", f"{DOCS}/x", id="idn-fullwidth-letters"
    ),
    pytest.param("https://docs.example.com\uff0e/x", f"{DOCS}/x", id="idn-fullwidth-final-dot"),
    pytest.param("https://docs\u3002example.com/x", f"{DOCS}/x", id="idn-ideographic-dot"),
    pytest.param(
        "https://b\u00fccher.example:8443/", "https://xn--bcher-kva.example:8443/", id="i8"
    ),
]

ALIASES = {
    "www.docs.example.com": "https://docs.example.com",
    "Docs.Example.ORG.": "https://docs.example.com/",  # key in any case, with a final dot
    "docs-insecure.example.com": "https://docs.example.com",  # the alias changes the scheme
    "localhost:8000": "https://docs.example.com",  # a port is part of the aliased host
    "preview.example.net": "http://localhost:5000",  # and it can go the other way
    "old.example.com": "HTTPS://Docs.Example.COM:443",  # origins are normalised too
    "buecher.example": "https://b\u00fccher.example",
}

ALIASED = [
    pytest.param("https://www.docs.example.com/guide/", f"{DOCS}/guide", id="www"),
    pytest.param("http://www.docs.example.com/guide", f"{DOCS}/guide", id="www-http"),
    pytest.param("https://WWW.Docs.Example.com:443/guide", f"{DOCS}/guide", id="www-case-port"),
    pytest.param("https://docs.example.org/a?x#y", f"{DOCS}/a", id="org"),
    pytest.param("https://docs.example.org./a", f"{DOCS}/a", id="org-final-dot"),
    pytest.param("http://docs-insecure.example.com/a", f"{DOCS}/a", id="http-to-https"),
    pytest.param("http://localhost:8000/a/index.html", f"{DOCS}/a", id="port-alias"),
    pytest.param("https://preview.example.net/a", "http://localhost:5000/a", id="https-to-http"),
    pytest.param("https://old.example.com/a", f"{DOCS}/a", id="origin-with-default-port"),
    pytest.param("https://buecher.example/a", "https://xn--bcher-kva.example/a", id="idn-origin"),
    pytest.param(f"{DOCS}/a", f"{DOCS}/a", id="canonical-host"),
    pytest.param("http://localhost:5000/a", "http://localhost:5000/a", id="target-untouched"),
    pytest.param("http://localhost:8001/a", "http://localhost:8001/a", id="other-port"),
    pytest.param("https://evil.docs.example.com/a", "https://evil.docs.example.com/a", id="sub"),
    pytest.param("https://x.docs.example.org/a", "https://x.docs.example.org/a", id="alias-sub"),
    pytest.param(
        "https://evil-www.docs.example.com/a",
        "https://evil-www.docs.example.com/a",
        id="alias-as-suffix",
    ),
    pytest.param(
        "https://www.docs.example.com.evil.test/a",
        "https://www.docs.example.com.evil.test/a",
        id="suffix-not-alias",
    ),
]


@pytest.mark.parametrize(("url", "expected"), NORMALISED)
def test_normalises(url: str, expected: str) -> None:
    assert normalise_page_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), NORMALISED)
def test_normalising_is_idempotent(url: str, expected: str) -> None:
    assert normalise_page_url(expected) == expected
    once = normalise_page_url(url)
    assert normalise_page_url(once) == once


@pytest.mark.parametrize(("url", "expected"), ALIASED)
def test_host_aliases(url: str, expected: str) -> None:
    assert normalise_page_url(url, ALIASES) == expected


@pytest.mark.parametrize(("url", "expected"), ALIASED)
def test_aliased_normalising_is_idempotent(url: str, expected: str) -> None:
    once = normalise_page_url(url, ALIASES)
    assert normalise_page_url(once, ALIASES) == once
    assert normalise_page_url(once) == once  # the canonical form needs no alias to be read


@pytest.mark.parametrize(("url", "expected"), NORMALISED)
def test_aliases_leave_other_hosts_alone(url: str, expected: str) -> None:
    assert normalise_page_url(url, ALIASES) == expected


def test_no_aliases_is_the_same_as_empty_aliases() -> None:
    url = "https://www.docs.example.com/a"
    assert normalise_page_url(url, None) == normalise_page_url(url, {}) == url


@pytest.mark.parametrize(
    "spelling",
    [
        f"{DOCS}/docs/x",
        f"{DOCS}/docs/x/",
        f"{DOCS}/docs/x/index.html",
        f"{DOCS}/docs/x?utm_source=y#setup",
        "HTTPS://DOCS.EXAMPLE.COM:443/docs/x",
        f"{DOCS}//docs/./y/../x//",
        f"{DOCS}/%64ocs/%78",
        "https://www.docs.example.com/docs/x",
        "http://docs-insecure.example.com/docs/x/",
    ],
)
def test_every_spelling_is_one_page(spelling: str) -> None:
    assert normalise_page_url(spelling, ALIASES) == f"{DOCS}/docs/x"


def test_longest_accepted_url() -> None:
    prefix = f"{DOCS}/"
    url = prefix + "a" * (MAX_URL_LENGTH - len(prefix))
    assert len(url) == MAX_URL_LENGTH
    assert normalise_page_url(url) == url


ENTER = "Enter the address of a page."
FULL = "Use the full address of the page, starting with https://."
TOO_LONG = "That address is too long."
CONTROL = "That address contains control characters."
NOT_VALID = "That is not a valid page address."
USERINFO = "Page addresses cannot contain a user name or password."
BAD_HOST = "That host name is not valid."

INVALID = [
    # nothing there
    pytest.param("", ENTER, id="empty"),
    pytest.param("   ", ENTER, id="spaces"),
    pytest.param("\t\r\n ", ENTER, id="whitespace"),
    pytest.param(None, ENTER, id="none"),
    # not an absolute http(s) URL
    pytest.param("/docs/guide", FULL, id="relative-path"),
    pytest.param("docs/guide", FULL, id="relative-name"),
    pytest.param("docs.example.com/guide", FULL, id="no-scheme"),
    pytest.param("//docs.example.com/guide", FULL, id="scheme-relative"),
    pytest.param("ftp://docs.example.com/guide", FULL, id="ftp"),
    pytest.param("javascript:alert(1)", FULL, id="javascript"),
    pytest.param("JavaScript://docs.example.com/%0Aalert(1)", FULL, id="javascript-host"),
    pytest.param("data:text/html,<script>alert(1)</script>", FULL, id="data"),
    pytest.param("file:///etc/passwd", FULL, id="file"),
    pytest.param("mailto:help@example.com", FULL, id="mailto"),
    pytest.param("ws://docs.example.com/guide", FULL, id="websocket"),
    pytest.param("https:docs.example.com/guide", FULL, id="no-slashes"),
    pytest.param("https:/docs.example.com/guide", FULL, id="one-slash"),
    # no host
    pytest.param("https://", FULL, id="scheme-only"),
    pytest.param("https:///guide", FULL, id="empty-host"),
    pytest.param("https://:443/guide", FULL, id="port-only"),
    pytest.param("https://./guide", FULL, id="dot-host"),
    # user name or password
    pytest.param("https://user:pw@docs.example.com/", USERINFO, id="user-password"),
    pytest.param("https://user@docs.example.com/", USERINFO, id="user"),
    pytest.param("https://:pw@docs.example.com/", USERINFO, id="password"),
    pytest.param("https://@docs.example.com/", USERINFO, id="empty-userinfo"),
    pytest.param("https://docs.example.com@evil.test/", USERINFO, id="host-as-user"),
    pytest.param("https://docs.example.com\\@evil.test/", USERINFO, id="backslash-user"),
    # control characters, anywhere
    pytest.param(f"{DOCS}/a\x00b", CONTROL, id="nul"),
    pytest.param(f"{DOCS}/a\tb", CONTROL, id="tab"),
    pytest.param(f"{DOCS}/a\nb", CONTROL, id="newline"),
    pytest.param(f"{DOCS}/a\rb", CONTROL, id="carriage-return"),
    pytest.param(f"{DOCS}/a\x1bb", CONTROL, id="escape"),
    pytest.param(f"{DOCS}/a\x7fb", CONTROL, id="delete"),
    pytest.param("https://docs.\x00example.com/", CONTROL, id="nul-in-host"),
    pytest.param("java\tscript:alert(1)", CONTROL, id="tab-in-scheme"),
    # too long
    pytest.param(f"{DOCS}/" + "a" * MAX_URL_LENGTH, TOO_LONG, id="too-long"),
    pytest.param(f"{DOCS}/?" + "q" * 5000, TOO_LONG, id="too-long-query"),
    pytest.param("x" * 100_000, TOO_LONG, id="absurdly-long"),
    # bad port
    pytest.param("https://docs.example.com:99999/", NOT_VALID, id="port-too-big"),
    pytest.param("https://docs.example.com:65536/", NOT_VALID, id="port-65536"),
    pytest.param("https://docs.example.com:-1/", NOT_VALID, id="port-negative"),
    pytest.param("https://docs.example.com:https/", NOT_VALID, id="port-name"),
    pytest.param("https://docs.example.com:4 43/", NOT_VALID, id="port-space"),
    pytest.param("https://docs.example.com:+443/", NOT_VALID, id="port-plus"),
    pytest.param("https://docs.example.com:443:443/", NOT_VALID, id="port-twice"),
    pytest.param("https://[::1/", NOT_VALID, id="ipv6-unclosed"),
    pytest.param("https://[zz]/", NOT_VALID, id="ipv6-garbage"),
    pytest.param("https://[127.0.0.1]/", NOT_VALID, id="ipv4-in-brackets"),
    # bad host names
    pytest.param("https://[v1.docs]/", BAD_HOST, id="ipvfuture"),
    pytest.param("https://a..b/", BAD_HOST, id="empty-label"),
    pytest.param("https://.docs.example.com/", BAD_HOST, id="leading-dot"),
    pytest.param(f"https://{'a' * 64}.example.com/", BAD_HOST, id="label-too-long"),
    pytest.param("https://evil.test\\docs.example.com/", BAD_HOST, id="backslash"),
    pytest.param("https://evil.test%2f.docs.example.com/", BAD_HOST, id="escaped-slash"),
    pytest.param("https://docs.exa%6dple.com/", BAD_HOST, id="percent-escape"),
    pytest.param("https://docs example.com/", BAD_HOST, id="space"),
    pytest.param("https://docs.example.com\u00a0/", BAD_HOST, id="no-break-space"),
    pytest.param('https://"docs".example.com/', BAD_HOST, id="quotes"),
    pytest.param("https://<script>.example.com/", BAD_HOST, id="angle-brackets"),
    pytest.param("https://docs.example.com\u2028/", BAD_HOST, id="line-separator"),
]


@pytest.mark.parametrize(("url", "message"), INVALID)
def test_rejects_with_a_message(url: str | None, message: str) -> None:
    with pytest.raises(InvalidPageURL) as caught:
        normalise_page_url(url)  # type: ignore[arg-type]
    assert str(caught.value) == message


@pytest.mark.parametrize(("url", "message"), INVALID)
def test_aliases_do_not_make_invalid_urls_valid(url: str | None, message: str) -> None:
    with pytest.raises(InvalidPageURL):
        normalise_page_url(url, ALIASES)  # type: ignore[arg-type]


def test_invalid_page_url_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="user name or password"):
        normalise_page_url("https://user:pw@docs.example.com/")
