"""The embed as a visitor meets it, in Chromium, across two sites.

A small static docs site serves pages with the snippet on ``http://localhost:DOCS``; the app runs on
``http://127.0.0.1:APP``. Those are different *sites*, so the iframe is a third-party context: the
browser keeps no unpartitioned cookie there, only ``SameSite=None; Secure; Partitioned`` ones (and
every page made here is told so explicitly, see ``_block_third_party_cookies``). CSRF protection is
on, as in production, so every form posted in the frame proves the partitioned session works.

Screenshots of the main states go to ``test-artifacts/screenshots/`` under the repository root.
"""

from __future__ import annotations

import gzip
import html
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Frame, FrameLocator, Page, expect
from werkzeug.serving import make_server

from community.accounts.models import User
from community.questions import page_cache
from community.questions.models import Question, Reply
from tests.conftest import PASSWORD, mail_settings
from tests.oidc_server import FakeOIDCProvider

DOCS_PUBLIC = "https://docs.example.com"  # the docs' canonical address, as the snippet names it
DOC_PATH = "/docs/session-replay/installation"
DOC_URL = DOCS_PUBLIC + DOC_PATH
FRAME_TITLE = "Questions and answers about this page"
FALLBACK = "Questions and answers about this page"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "127.0.0.2"}
expect.set_options(timeout=10_000)  # two shared cores: a page may take a few seconds


# -- the docs site ---------------------------------------------------------------------------------

DOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · Example docs</title>
<link rel="canonical" href="{page_url}">
</head>
<body>
<header><a href="/">Example docs</a></header>
<main>
<h1>{title}</h1>
<p>Add the snippet to your site, then call <code>init()</code> once per page.</p>
{widget}
</main>
{script}
</body>
</html>
"""


class DocsSite:
    """A static documentation site on an origin of its own; every page carries the embed.

    ``/docs/...`` is a page with the snippet (``?theme=dark`` adds ``data-theme``); ``/forged/...``
    frames the embed by hand, claiming in its URL to be the allowed docs site."""

    def __init__(self, bind: str, host: str, claims: str = "") -> None:
        self.app_url = ""  # set per test: where the snippet loads embed.js from
        self.claims = claims  # the origin a forged page pretends to be
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = owner.render(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((bind, 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = DOC_PATH, **query: str) -> str:
        return self.origin + path + ("?" + urlencode(query) if query else "")

    def render(self, target: str) -> tuple[int, str]:
        parts = urlsplit(target)
        query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
        kind, _, doc_path = parts.path.lstrip("/").partition("/")
        if kind not in ("docs", "forged") or not self.app_url:
            return 404, "<!doctype html><title>Not found</title><p>Not found</p>"
        page_url = f"{DOCS_PUBLIC}/docs/{doc_path}"
        title = "Installing session replay"
        fallback = f"{self.app_url}/pages?url={quote(page_url, safe='')}"
        if kind == "forged":
            params = urlencode({"url": page_url, "title": title, "origin": self.claims})
            widget = (
                f'<iframe src="{self.app_url}/embed?{html.escape(params)}" title="Forged"'
                ' style="width:100%;height:320px;border:0"></iframe>'
            )
            script = ""
        else:
            theme = f' data-theme="{html.escape(query["theme"])}"' if "theme" in query else ""
            widget = (
                f'<div data-community-questions data-page-url="{html.escape(page_url)}"'
                f' data-page-title="{html.escape(title)}"{theme}>'
                f'<a href="{html.escape(fallback)}">{FALLBACK}</a></div>'
            )
            script = f'<script src="{self.app_url}/static/embed.js" async></script>'
        page = DOC_PAGE.format(
            title=html.escape(title), page_url=html.escape(page_url), widget=widget, script=script
        )
        return 200, page

    def start(self) -> DocsSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def docs() -> Iterator[DocsSite]:
    """The docs site allowed to show the embed: bound first, so the app's config can name it."""
    site = DocsSite("127.0.0.1", "localhost").start()
    yield site
    site.stop()


@pytest.fixture(scope="session")
def strangers(docs: DocsSite) -> Iterator[dict[str, DocsSite]]:
    """Docs sites NOT in the allowlist: another origin of the same site, and another site."""
    sites = {
        "same site, other port": DocsSite("127.0.0.1", "localhost", claims=docs.origin).start(),
        "other site": DocsSite("127.0.0.2", "127.0.0.2", claims=docs.origin).start(),
    }
    yield sites
    for site in sites.values():
        site.stop()


# -- the app, on a port known before it is made ----------------------------------------------------


@pytest.fixture
def app_socket() -> Iterator[socket.socket]:
    """The app's listening socket, bound before the app exists so BASE_URL can name it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener
    listener.close()


@pytest.fixture
def idp() -> Iterator[FakeOIDCProvider]:
    server = FakeOIDCProvider().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(smtp_server, docs, app_socket, idp) -> dict[str, Any]:
    return {
        **mail_settings(smtp_server),
        **idp.settings("ACME"),
        "BASE_URL": f"http://127.0.0.1:{app_socket.getsockname()[1]}",
        "EMBED_ALLOWED_ORIGINS": [docs.origin],
        "WTF_CSRF_ENABLED": True,  # as in production: the frame's forms carry their tokens
        "PAGE_CACHE_MB": 8,  # as in production: first views come from the workers' memory
    }


@pytest.fixture
def live_server(app: Flask, app_socket: socket.socket, docs: DocsSite) -> Iterator[str]:
    """The app served on its pre-bound socket; the docs site's snippets point at it."""
    server = make_server("127.0.0.1", 0, app, threaded=True, fd=app_socket.fileno())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    url = app.config["BASE_URL"]
    assert url == f"http://127.0.0.1:{server.server_address[1]}"
    docs.app_url = url
    try:
        yield url
    finally:
        docs.app_url = ""
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


# -- visitors: browser contexts that block third-party cookies -------------------------------------


def _block_third_party_cookies(page: Page) -> None:
    """Block third-party cookies in this tab and its frames, whatever the browser's defaults.

    Chromium's own "Block third-party cookies" setting, set through DevTools; the heuristics that
    would grant a site third-party cookies after a popup (our provider sign-in) are off too, so
    the embed is tested as the strictest browsers treat it."""
    session = page.context.new_cdp_session(page)
    session.send(
        "Network.setCookieControls",
        {
            "enableThirdPartyCookieRestriction": True,
            "disableThirdPartyCookieMetadata": True,
            "disableThirdPartyCookieHeuristics": True,
        },
    )
    session.detach()


def new_tab(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(10_000)
    _block_third_party_cookies(page)
    return page


@dataclass
class Visitor:
    """One person's browser profile: a context with its first tab, and what happened in it."""

    context: BrowserContext
    page: Page
    requests: list[str]  # every URL any of its tabs or frames asked for
    errors: list[str]  # uncaught script errors
    dialogs: list[str]


@pytest.fixture
def visitors(browser: Browser) -> Iterator[Callable[..., Visitor]]:
    """``visitors()`` opens a new, separate browser profile; each is checked when the test ends:
    no request left this machine, no script error, no dialog."""
    made: list[Visitor] = []

    def new(**options: Any) -> Visitor:
        context = browser.new_context(**options)
        requests: list[str] = []
        errors: list[str] = []
        dialogs: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        context.on("weberror", lambda error: errors.append(str(error.error)))
        context.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        visitor = Visitor(context, new_tab(context), requests, errors, dialogs)
        made.append(visitor)
        return visitor

    yield new
    try:
        for visitor in made:
            remote = [
                url
                for url in visitor.requests
                if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                and urlsplit(url).hostname not in LOOPBACK_HOSTS
            ]
            assert remote == [], f"the browser reached beyond this machine: {remote}"
            assert visitor.errors == [], f"script errors: {visitor.errors}"
            assert visitor.dialogs == [], f"dialogs: {visitor.dialogs}"
    finally:
        for visitor in made:
            visitor.context.close()


@pytest.fixture
def page(visitors: Callable[..., Visitor]) -> Page:
    return visitors().page


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    folder = request.config.rootpath / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        # Chromium paints a cross-site iframe only inside the viewport: make the viewport as
        # tall as the page for the picture.
        size = page.viewport_size or {"width": 1280, "height": 720}
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(size)
        return path

    return take


def embed(page: Page) -> FrameLocator:
    return page.frame_locator(f"iframe[title='{FRAME_TITLE}']")


def open_docs(page: Page, url: str) -> FrameLocator:
    """Open a docs page and wait for the embed to say it is ready (the fallback link hides)."""
    page.goto(url)
    frame = embed(page)
    expect(frame.get_by_role("heading", name="Ask a question")).to_be_visible()
    expect(page.get_by_role("link", name=FALLBACK)).to_be_hidden()
    return frame


def frame_of(page: Page) -> Frame:
    handle = page.locator(f"iframe[title='{FRAME_TITLE}']").element_handle()
    frame = handle.content_frame() if handle else None
    assert frame is not None
    return frame


def sign_in_in_frame(frame: FrameLocator, email: str, name: str) -> None:
    frame.get_by_role("link", name="Sign in", exact=True).click()
    frame.get_by_label("Email").fill(email)
    frame.get_by_label("Password").fill(PASSWORD)
    frame.get_by_role("button", name="Sign in", exact=True).click()
    expect(frame.get_by_text(f"Signed in as {name}")).to_be_visible()


def heights(page: Page) -> tuple[float, float]:
    """The iframe element's height on the docs page, and the height of the frame's document
    (its content: the root element's box, which unlike scrollHeight never counts the viewport)."""
    iframe = page.locator(f"iframe[title='{FRAME_TITLE}']").bounding_box()
    assert iframe is not None
    document = frame_of(page).evaluate("document.documentElement.getBoundingClientRect().height")
    return iframe["height"], float(document)


def wait_for_fit(page: Page, taller_than: float = 0, shorter_than: float = 1e9) -> float:
    """Wait until the iframe is as tall as its document (and taller or shorter than before),
    with nothing to scroll inside it; its height."""
    for _ in range(100):
        outer, inner = heights(page)
        if abs(outer - inner) <= 2 and taller_than < outer < shorter_than:
            scrolls = frame_of(page).evaluate(
                "document.documentElement.scrollHeight > document.documentElement.clientHeight"
            )
            assert not scrolls, "the frame scrolls inside"
            return outer
        page.wait_for_timeout(100)
    raise AssertionError(f"the iframe is {outer}px tall, its document {inner}px")


def seed_thread(make, asker: int, helper: int, subject: str, others: int = 2) -> dict[str, int]:
    """A question on the doc page with an accepted answer and ``others`` more replies."""
    question = make.question(
        asker, subject=subject, body=f"Details about *{subject}*.", page_url=DOC_URL
    )
    accepted = make.reply(question, helper, body="Call `init()` **before** anything else.")
    make.accept(accepted, asker)
    replies = [
        make.reply(question, helper, body=f"Another idea, number {n}.") for n in range(others)
    ]
    return {"question": question, "accepted": accepted, "others": replies}


# -- the browser really blocks third-party cookies -------------------------------------------------


def test_the_frame_keeps_only_partitioned_cookies(page, docs, live_server):
    context = page.context
    # A cookie the app's site set earlier as a first party (a visit to 127.0.0.1 itself).
    # (Not by "url": Chromium drops a Secure cookie given for an http:// URL.)
    context.add_cookies(
        [
            {
                "name": "first_party",
                "value": "1",
                "domain": "127.0.0.1",
                "path": "/",
                "sameSite": "None",
                "secure": True,
            }
        ]
    )
    assert [c["name"] for c in context.cookies(live_server)] == ["first_party"]
    frame = open_docs(page, docs.url())
    inside = frame_of(page)
    # The frame sets one unpartitioned and one partitioned cookie of its own.
    inside.evaluate(
        """() => {
            document.cookie = "plain=1; SameSite=None; Secure; Path=/";
            document.cookie = "chips=1; SameSite=None; Secure; Partitioned; Path=/";
        }"""
    )
    assert inside.evaluate("document.cookie") == "chips=1"
    # A first view starts no session; the first use of a form asks for a token, which does.
    assert "community_embed" not in {c["name"] for c in context.cookies(live_server)}
    with page.expect_response(lambda r: r.url.startswith(live_server + "/embed/token")) as got:
        frame.get_by_label("Subject").focus()
    assert got.value.ok

    # What the next request from the frame carries.
    with page.expect_request(lambda r: r.url.startswith(live_server + "/embed/sign-in")) as sent:
        frame.get_by_role("link", name="Sign in", exact=True).click()
    cookies = sent.value.header_value("cookie") or ""
    names = {part.split("=", 1)[0].strip() for part in cookies.split(";") if part.strip()}
    assert "community_embed" in names
    assert "plain" not in names
    assert "first_party" not in names
    assert "chips" in names

    # The app's session cookie lives in the docs site's partition only; the unpartitioned one
    # is still in the browser, just never sent to a third-party frame.
    stored = {c["name"]: c for c in context.cookies(live_server)}
    assert "partitionKey" not in stored["first_party"]
    assert stored["community_embed"]["sameSite"] == "None"
    assert stored["community_embed"]["secure"] is True
    assert stored["community_embed"]["partitionKey"] == "http://localhost"
    assert "plain" not in stored


# -- the page's questions --------------------------------------------------------------------------


def test_the_pages_questions_appear_with_their_accepted_answers(
    page, docs, live_server, make, screenshot, app
):
    ada = make.user(name="Ada Lovelace", email="ada@example.com")
    grace = make.user(name="Grace Hopper", email="grace@example.com")
    first = seed_thread(make, ada, grace, "Recordings stop after navigation", others=2)
    make.question(grace, subject="Does replay work in iframes?", page_url=DOC_URL)
    make.question(ada, subject="A question about another page", page_url=DOC_URL + "-other")

    frame = open_docs(page, docs.url())
    expect(frame.get_by_role("heading", name="2 questions about this page")).to_be_visible()
    questions = frame.locator("li.embed-question")
    expect(questions).to_have_count(2)
    expect(frame.get_by_text("A question about another page")).to_have_count(0)

    thread = frame.locator(f"#question-{first['question']}")
    expect(thread.get_by_role("heading", name="Recordings stop after navigation")).to_be_visible()
    accepted = thread.locator(f"#reply-{first['accepted']}")
    expect(accepted).to_be_visible()
    expect(accepted).to_contain_text("Accepted answer")
    expect(accepted.locator("strong")).to_have_text("before")
    expect(thread.locator(".badge-resolved")).to_have_text("Resolved")
    # The other replies wait behind a summary.
    others = [thread.locator(f"#reply-{reply}") for reply in first["others"]]
    for other in others:
        expect(other).to_be_hidden()
    screenshot(page, "embed-questions")
    thread.get_by_text("2 more replies").click()
    for other in others:
        expect(other).to_be_visible()
    # The ask form's "Details" label names its own box, not the first reply box (same ids once).
    expect(frame.locator("#ask").get_by_label("Details")).to_be_visible()
    # The thread's own page opens in a new tab, on the site.
    link = thread.get_by_role("link", name="Recordings stop after navigation")
    assert link.get_attribute("target") == "_blank"
    href = link.evaluate("a => a.href")
    assert href.startswith(f"{live_server}/questions/{first['question']}-")

    # Reading it again, still without a session, the frame comes from the page cache.
    cache = page_cache.of(app)
    cache.watcher.settle()
    for _ in range(3):  # until kept (on SQLite, the first stored rendering empties it once)
        answered = cache.counts["hits"] + cache.counts["not_modified"]
        frame = open_docs(page, docs.url())
        expect(frame.get_by_role("heading", name="2 questions about this page")).to_be_visible()
        if cache.counts["hits"] + cache.counts["not_modified"] > answered:
            break
    assert cache.counts["hits"] + cache.counts["not_modified"] > answered, cache.stats()
    expect(frame.locator(f"#reply-{first['accepted']}")).to_contain_text("Accepted answer")


# -- write first, sign up and verify by email, sign in inside the frame ----------------------------


def verification_link(mailbox, address: str, live_server: str) -> str:
    text = mailbox.last(address).get_body(("plain",)).get_content()
    links = [url for url in re.findall(r"https?://\S+", text) if "/verify/" in url]
    assert links, text
    assert links[0].startswith(live_server + "/verify/"), links[0]
    return links[0]


def test_write_first_then_sign_up_verify_and_sign_in_inside_the_frame(
    page, docs, live_server, make, mailbox, screenshot
):
    frame = open_docs(page, docs.url())
    frame.get_by_label("Subject").fill("Recordings stop after navigation")
    frame.get_by_label("Details").fill("They stop when I change **route**.")
    frame.get_by_role("button", name="Post your question").click()

    # Asked to sign in, in place, with the question kept.
    expect(frame.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(frame.get_by_role("status").first).to_contain_text("Your question is saved")
    screenshot(page, "embed-sign-in")
    frame.get_by_role("link", name="Create an account").click()
    frame.get_by_label("Your name").fill("Ada Lovelace")
    frame.get_by_label("Email").fill("ada@example.com")
    frame.get_by_label("Password").fill(PASSWORD)
    frame.get_by_role("button", name="Create account").click()
    expect(frame.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert make.count(Question) == 0

    # The email's link, opened in a new tab as a person would: a first-party window on the app.
    inbox = new_tab(page.context)
    inbox.goto(verification_link(mailbox, "ada@example.com", live_server))
    inbox.get_by_label("The password you chose").fill(PASSWORD)
    inbox.get_by_role("button", name="Confirm my address").click()
    inbox.wait_for_url("**/questions/*-recordings-stop-after-navigation")
    expect(inbox.locator("#question strong")).to_have_text("route")
    inbox.close()

    # Back on the docs page: signing in inside the frame shows the posted question, once.
    frame.get_by_role("link", name="sign in here").click()
    frame.get_by_label("Email").fill("ada@example.com")
    frame.get_by_label("Password").fill(PASSWORD)
    frame.get_by_role("button", name="Sign in", exact=True).click()
    expect(frame.get_by_text("Signed in as Ada Lovelace")).to_be_visible()
    expect(frame.get_by_role("heading", name="1 question about this page")).to_be_visible()
    thread = frame.locator("li.embed-question")
    expect(thread.get_by_role("heading", name="Recordings stop after navigation")).to_be_visible()
    expect(thread.locator(".post-body strong").first).to_have_text("route")
    # Nothing waits to be typed again: the ask form is empty.
    expect(frame.get_by_label("Subject")).to_have_value("")
    expect(frame.get_by_label("Details")).to_have_value("")
    assert make.count(Question) == 1
    assert make.count(User, User.email_verified_at.is_not(None)) == 1


# -- another visitor replies; the asker accepts in the frame ---------------------------------------


def test_a_second_visitor_replies_and_the_asker_accepts_in_the_frame(
    visitors, docs, live_server, make, screenshot
):
    make.user(name="Ada Lovelace", email="ada@example.com")
    grace_id = make.user(name="Grace Hopper", email="grace@example.com")
    ada = visitors().page
    frame = open_docs(ada, docs.url())
    sign_in_in_frame(frame, "ada@example.com", "Ada Lovelace")
    frame.get_by_label("Subject").fill("Recordings stop after navigation")
    frame.get_by_label("Details").fill("They stop when I change route.")
    frame.get_by_role("button", name="Post your question").click()
    expect(frame.get_by_text("Your question is posted.")).to_be_visible()
    thread = frame.locator("li.embed-question")
    expect(thread.locator(".badge-unanswered")).to_have_text("Unanswered")

    # Grace, in a browser profile of her own, answers through the same embed.
    grace = visitors().page
    other = open_docs(grace, docs.url())
    sign_in_in_frame(other, "grace@example.com", "Grace Hopper")
    other.locator("li.embed-question summary").click()
    other.get_by_role("textbox", name="Your reply").fill("Call `init()` **before** routing.")
    other.get_by_role("button", name="Post reply").click()
    expect(other.get_by_text("Your reply is posted.")).to_be_visible()
    expect(other.locator("article.reply strong")).to_have_text("before")

    # Ada sees it on her next visit and accepts it, without leaving the docs.
    ada.reload()
    frame = embed(ada)
    thread = frame.locator("li.embed-question")
    thread.get_by_text("1 more reply").click()
    thread.get_by_role("button", name="Accept as answer").click()
    expect(frame.get_by_text("Marked as the answer")).to_be_visible()
    accepted = frame.locator("article.reply.accepted")
    expect(accepted).to_be_visible()  # shown outside the fold now
    expect(accepted).to_contain_text("Accepted answer")
    expect(accepted).to_contain_text("Grace Hopper")
    expect(thread.locator(".badge-resolved")).to_have_text("Resolved")
    expect(thread.get_by_role("button", name="Withdraw acceptance")).to_be_visible()
    screenshot(ada, "embed-after-accepting")
    question_id = int((thread.get_attribute("id") or "").removeprefix("question-"))
    accepted_id = make.get(Question, question_id).accepted_reply_id
    assert make.get(Reply, accepted_id).author_id == grace_id


# -- the iframe fits its content -------------------------------------------------------------------


def test_the_iframe_resizes_to_its_content(page, docs, live_server, make, screenshot):
    ada = make.user(name="Ada Lovelace", email="ada@example.com")
    grace = make.user(name="Grace Hopper", email="grace@example.com")
    thread = seed_thread(make, ada, grace, "Recordings stop after navigation", others=3)

    frame = open_docs(page, docs.url())
    before = wait_for_fit(page)
    frame.get_by_text("3 more replies").click()
    expect(frame.locator(f"#reply-{thread['others'][-1]}")).to_be_visible()
    expanded = wait_for_fit(page, taller_than=before)
    assert expanded - before > 300  # three replies' worth, and the reply box
    screenshot(page, "embed-expanded-thread")

    # The markdown preview (fetched by the frame's script) grows it too.
    frame.get_by_label("Details").fill("Line one\n\n- a\n- b\n- c\n\n> quoted\n\n```\ncode\n```")
    frame.get_by_role("button", name="Preview").click()
    expect(frame.locator("#ask-preview blockquote")).to_have_text("quoted")
    wait_for_fit(page, taller_than=expanded)
    # Folding the thread again shrinks it back.
    frame.get_by_text("3 more replies").click()
    wait_for_fit(page, shorter_than=expanded)


# -- keyboard only ---------------------------------------------------------------------------------


def focused(frame: Frame) -> str:
    """What has the keyboard focus inside the frame: tag, name or text (empty when none)."""
    return frame.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return "";
            return `${el.tagName.toLowerCase()}|${el.getAttribute("name") || ""}|`
                + `${(el.textContent || "").trim().slice(0, 40)}`;
        }"""
    )


def tab_to(page: Page, frame: Frame, wanted: Callable[[str], bool], limit: int = 40) -> str:
    """Press Tab until the element with the focus inside the frame is the one wanted."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(frame)
        if wanted(now):
            return now
    raise AssertionError(f"Tab never reached it; the focus ended on {focused(frame)!r}")


def test_keyboard_only_expand_reply_and_post(page, docs, live_server, make, screenshot):
    ada = make.user(name="Ada Lovelace", email="ada@example.com")
    make.user(name="Grace Hopper", email="grace@example.com")
    question = make.question(ada, subject="Recordings stop after navigation", page_url=DOC_URL)
    frame = open_docs(page, docs.url())
    sign_in_in_frame(frame, "grace@example.com", "Grace Hopper")

    # From the top of the docs page, with the keyboard alone.
    page.reload()
    frame = embed(page)
    expect(frame.get_by_text("Signed in as Grace Hopper")).to_be_visible()
    inside = frame_of(page)
    summary = tab_to(page, inside, lambda now: now.startswith("summary|"))
    assert page.evaluate("document.activeElement.tagName") == "IFRAME"
    assert "Reply" in summary
    outline = inside.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused summary shows no focus ring"
    page.keyboard.press("Enter")
    details = frame.locator(f"#question-{question} details")
    expect(details).to_have_attribute("open", "")
    tab_to(page, inside, lambda now: now.startswith("textarea|body|"))
    page.keyboard.type("Press Enter on **init**.")
    screenshot(page, "embed-keyboard-reply")
    tab_to(page, inside, lambda now: now.startswith("button|") and "Post reply" in now)
    page.keyboard.press("Enter")
    expect(frame.get_by_text("Your reply is posted.")).to_be_visible()
    expect(frame.locator(f"#question-{question} article.reply strong")).to_have_text("init")
    assert make.count(Reply, Reply.question_id == question) == 1
    wait_for_fit(page)  # and the frame grew to show it all


# -- origins not in the allowlist ------------------------------------------------------------------


@pytest.mark.parametrize("stranger", ["same site, other port", "other site"])
def test_a_docs_site_not_allowed_gets_the_plain_link(
    page, strangers, stranger, live_server, make, docs
):
    ada = make.user(name="Ada Lovelace", email="ada@example.com")
    make.question(ada, subject="Recordings stop after navigation", page_url=DOC_URL)
    site = strangers[stranger]
    site.app_url = live_server
    try:
        # The snippet, copied to a site that is not allowed: the frame is refused by the app
        # (it names its origin) and by the browser (frame-ancestors).
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(site.url())
        iframe = page.locator(f"iframe[title='{FRAME_TITLE}']")
        iframe.wait_for(state="attached")
        refused = iframe.element_handle().content_frame()
        assert refused is not None
        refused.wait_for_load_state()
        assert refused.url.startswith("chrome-error:"), refused.url
        assert refused.get_by_text("Recordings stop after navigation").count() == 0
        assert refused.get_by_role("heading", name="Ask a question").count() == 0
        # The loader gives up on a frame that never says hello: the plain link is back.
        expect(iframe).to_have_count(0)
        fallback = page.get_by_role("link", name=FALLBACK)
        expect(fallback).to_be_visible()
        assert fallback.get_attribute("href") == (
            f"{live_server}/pages?url={quote(DOC_URL, safe='')}"
        )

        # A page that frames the embed by hand and claims to be the allowed docs site: the
        # browser still refuses it, as frame-ancestors names the allowed origin only.
        page.goto(site.url(DOC_PATH.replace("/docs/", "/forged/", 1)))
        forged = page.locator("iframe[title='Forged']").element_handle().content_frame()
        assert forged is not None
        forged.wait_for_load_state()
        assert forged.url.startswith("chrome-error:"), forged.url
        assert forged.get_by_text("Recordings stop after navigation").count() == 0
        # Both times it was the browser that refused, on the app's frame-ancestors.
        blocked = f"Content Security Policy directive: \"frame-ancestors 'self' {docs.origin}\""
        for _ in range(50):
            if sum(blocked in line for line in console) == 2:
                break
            page.wait_for_timeout(100)
        assert sum(blocked in line for line in console) == 2, console
    finally:
        site.app_url = ""


# -- provider sign-in through the popup ------------------------------------------------------------


def test_provider_sign_in_in_a_popup_posts_the_draft(page, docs, live_server, idp, make):
    frame = open_docs(page, docs.url())
    frame.get_by_label("Subject").fill("Does replay work in iframes?")
    frame.get_by_label("Details").fill("Our app embeds a **checkout** iframe.")
    frame.get_by_role("button", name="Post your question").click()
    expect(frame.get_by_role("status").first).to_contain_text("Your question is saved")

    redeemed_with_code: list[bool] = []
    popup_answers: list[tuple[str, str | None]] = []

    def redeeming(request: Any) -> None:
        if "/embed/sign-in/redeem" in request.url:
            redeemed_with_code.append('name="code"' in (request.post_data or ""))

    def answered(response: Any) -> None:
        if response.url.startswith(live_server + "/popup/"):
            policy = response.headers.get("cross-origin-opener-policy")
            popup_answers.append((response.url.split("?")[0], policy))

    page.on("request", redeeming)
    page.context.on("response", answered)

    # The provider's button opens a window on the app's own origin (top level: its own cookies),
    # which goes to the provider, comes back, confirms by itself (our own embed opened it),
    # hands the embed a one-time code and closes.
    with page.context.expect_page() as opened:
        frame.get_by_role("button", name="Acme").click()
    popup = opened.value
    popup.wait_for_event("close", timeout=10_000)
    # The frame redeemed the popup's code: signed in, and the draft is posted.
    expect(frame.get_by_text("Signed in as Alice Example")).to_be_visible()
    expect(frame.get_by_text("Your question is posted.")).to_be_visible()
    thread = frame.locator("li.embed-question")
    expect(thread.get_by_role("heading", name="Does replay work in iframes?")).to_be_visible()
    expect(thread.locator(".post-body strong")).to_have_text("checkout")
    assert make.count(Question) == 1
    # The popup handed its code back by postMessage (its opener was kept); the embed's polling
    # without a code is only the fallback for popups a provider cut off.
    assert True in redeemed_with_code, redeemed_with_code
    assert len(idp.authorize_requests) == 1
    assert len(idp.token_requests) == 1
    # The popup keeps its opener from its first redirect on.
    assert popup_answers[0] == (live_server + "/popup/sign-in", "unsafe-none")
    assert {policy for _url, policy in popup_answers} == {"unsafe-none"}, popup_answers

    # Signed in inside the frame only: its session is the partitioned embed cookie.
    stored = {c["name"]: c for c in page.context.cookies(live_server)}
    assert stored["community_embed"]["partitionKey"] == "http://localhost"


# -- two origins only, and a small first view ------------------------------------------------------


def transfer(requests: list[Any]) -> list[dict[str, Any]]:
    """Per response: bytes on the wire (headers and body as sent), and the body gzipped."""
    rows = []
    for request in requests:
        response = request.response()
        assert response is not None, f"no answer to {request.url}"
        sizes = request.sizes()
        body = sizes["responseBodySize"]
        rows.append(
            {
                "url": request.url,
                "status": response.status,
                "wire": sizes["responseHeadersSize"] + body,
                "body": body,
                "gzip": len(gzip.compress(response.body(), 9)) if body else 0,
            }
        )
    return rows


def test_first_view_stays_on_two_origins_and_is_small(visitors, docs, live_server, make, request):
    people = [make.user(name=f"Person {n}", email=f"person{n}@example.com") for n in range(4)]
    for n in range(10):
        asker, helper = people[n % 2], people[2 + n % 2]
        question = make.question(
            asker,
            subject=f"How do I configure option number {n} for session replay?",
            body=f"I set `option{n}` in **init()** but recordings still miss some pages. "
            "What else do I need to change?",
            page_url=DOC_URL,
        )
        replies = [
            make.reply(question, helper, body=f"Reply {r}: check `option{n}` and reload.")
            for r in range(3)
        ]
        if n % 2 == 0:
            make.accept(replies[0], asker)

    visitor = visitors()
    page = visitor.page
    finished: list[Any] = []
    failed: list[str] = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.on("requestfailed", lambda request: failed.append(request.url))
    open_docs(page, docs.url())
    expect(embed(page).locator("li.embed-question")).to_have_count(10)
    page.wait_for_load_state("networkidle")
    first = transfer(finished)

    # The visitor returns: the static files are revalidated, not sent again.
    finished.clear()
    page.reload()
    expect(embed(page).locator("li.embed-question")).to_have_count(10)
    page.wait_for_load_state("networkidle")
    repeat = transfer(finished)

    origins = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in visitor.requests}
    assert origins == {docs.origin, live_server}, visitor.requests
    assert failed == []

    def ours(rows: list[dict[str, Any]], static: bool | None = None) -> list[dict[str, Any]]:
        return [
            row
            for row in rows
            if row["url"].startswith(live_server)
            and (static is None or urlsplit(row["url"]).path.startswith("/static/") == static)
        ]

    def total(rows: list[dict[str, Any]], key: str = "wire") -> int:
        return sum(row[key] for row in rows)

    def line(label: str, rows: list[dict[str, Any]]) -> str:
        return (
            f"{label:<34}{total(rows):>7} B on the wire"
            f" (bodies {total(rows, 'body')} B; gzipped they would be {total(rows, 'gzip')} B)"
        )

    summary = "\n".join(
        [
            "First view of a docs page with 10 questions, 3 replies each (no compression):",
            *(
                f"  {row['wire']:>7} B  (body {row['body']:>6}, gzipped {row['gzip']:>5})  "
                f"{row['url'][:80]}"
                for row in first
            ),
            line("app, all responses:", ours(first)),
            line("app, excluding static files:", ours(first, static=False)),
            line("app, static files (cacheable):", ours(first, static=True)),
            line("everything, docs page included:", first),
            line("repeat view, app:", ours(repeat)),
        ]
    )
    print(summary)
    artifacts = request.config.rootpath / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "embed-transfer.txt").write_text(summary + "\n")
    assert total(ours(first, static=False)) < 50_000, summary
    assert total(ours(repeat, static=True), "body") == 0, summary


# -- accessibility (axe-core) ----------------------------------------------------------------------

AXE_RUN = """async () => {
    const results = await axe.run(document, {resultTypes: ["violations"]});
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary})),
    }));
}"""


def axe_violations(target: Page | Frame, where: str) -> list[dict[str, Any]]:
    """Run axe-core here; print every violation; return the serious and critical ones."""
    violations = target.evaluate(AXE_RUN)
    for violation in violations:
        print(f"axe [{where}] {violation['impact']}: {violation['id']} ({violation['help']})")
        for node in violation["nodes"]:
            print(f"    {node['target']}: {node['summary']}")
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def with_axe(visitors: Callable[..., Visitor], **options: Any) -> Page:
    """A visitor whose every document, frames included, has axe-core loaded (the app's CSP
    would refuse an injected script tag; an init script is not subject to it)."""
    visitor = visitors(**options)
    visitor.context.add_init_script(path=str(AXE))
    return visitor.page


def busy_thread(make) -> dict[str, int]:
    ada = make.user(name="Ada Lovelace", email="ada@example.com")
    grace = make.user(name="Grace Hopper", email="grace@example.com")
    thread = seed_thread(make, ada, grace, "Recordings stop after navigation", others=2)
    make.question(grace, subject="Does replay work in iframes?", page_url=DOC_URL)
    return {"ada": ada, "grace": grace, **thread}


@pytest.mark.parametrize(
    ("theme", "scheme"),
    [("light", "light"), ("dark", "light"), ("auto", "dark")],
    ids=["light", "dark", "auto with a dark system"],
)
def test_the_embed_has_no_serious_accessibility_violations(
    visitors, docs, live_server, make, theme, scheme, screenshot
):
    busy_thread(make)
    page = with_axe(visitors, color_scheme=scheme)
    frame = open_docs(page, docs.url(theme=theme) if theme != "auto" else docs.url())
    found = {}
    # Signed out, then inside the frame's sign-in form, then signed in with every thread open:
    # the asker sees accept, withdraw, follow and reply controls.
    found["questions"] = axe_violations(frame_of(page), f"embed {theme}, signed out")
    frame.get_by_role("link", name="Sign in", exact=True).click()
    expect(frame.get_by_role("heading", name="Sign in")).to_be_visible()
    found["sign in"] = axe_violations(frame_of(page), f"embed {theme}, sign-in form")
    frame.get_by_label("Email").fill("ada@example.com")
    frame.get_by_label("Password").fill(PASSWORD)
    frame.get_by_role("button", name="Sign in", exact=True).click()
    expect(frame.get_by_text("Signed in as Ada Lovelace")).to_be_visible()
    frame_of(page).evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    found["signed in"] = axe_violations(frame_of(page), f"embed {theme}, signed in")
    screenshot(page, f"embed-{theme}" if theme != "auto" else f"embed-auto-{scheme}")
    assert found == {"questions": [], "sign in": [], "signed in": []}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_thread_page_has_no_serious_accessibility_violations(
    visitors, live_server, make, scheme, screenshot
):
    thread = busy_thread(make)
    page = with_axe(visitors, color_scheme=scheme)
    url = f"{live_server}/questions/{thread['question']}"
    page.goto(url)
    expect(page.get_by_role("heading", name="Recordings stop after navigation")).to_be_visible()
    found = {"signed out": axe_violations(page, f"thread {scheme}, signed out")}
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto(url)
    expect(page.get_by_role("button", name="Withdraw acceptance")).to_be_visible()
    found["signed in"] = axe_violations(page, f"thread {scheme}, the asker")
    screenshot(page, f"thread-{scheme}")
    assert found == {"signed out": [], "signed in": []}
