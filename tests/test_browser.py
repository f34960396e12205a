"""What a person does, in a real browser: ask on a doc page, answer, accept, all rendered safely."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import mail_settings

DOC = "https://docs.example.com/docs/session-replay/installation"
HOSTILE = (
    'Try this: <img src=x onerror="alert(1)"> and [click](javascript:alert(2)) '
    "and <script>alert(3)</script>\n\n```js\nposthog.init('key')\n```"
)


@pytest.fixture
def app_config(smtp_server):
    return mail_settings(smtp_server)


def _sign_up(page, live_server, mailbox, name: str, email: str) -> None:
    """Sign up in place, then confirm the address from the real email, as a person would."""
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Create account").click()
    assert "Check your inbox" in page.locator("h1").inner_text()
    page.goto(live_server + mailbox.link(email, "/verify/"))
    page.get_by_label("The password you chose").fill("correct horse battery staple")
    page.get_by_role("button", name="Confirm my address").click()


def test_ask_answer_accept_journey(live_server, page, make, mailbox):
    make.topic(name="Session replay", prefix="/docs/session-replay")

    # A visitor writes a question on the doc page before having an account.
    page.goto(f"{live_server}/pages?url={quote(DOC)}&title=Install%20replay")
    page.get_by_label("Subject").fill("Recordings stop after navigation")
    page.get_by_label("Details").fill("They stop when I change **route**.")
    page.get_by_role("button", name="Post your question").click()
    assert "Your question is saved" in page.content()
    page.get_by_role("link", name="Sign in", exact=True).first.wait_for()
    _sign_up(page, live_server, mailbox, "Ada Lovelace", "ada@example.com")

    # Posted without retyping, and listed on the doc page.
    page.wait_for_url("**/questions/*-recordings-stop-after-navigation")
    assert page.locator("h1").inner_text() == "Recordings stop after navigation"
    assert page.locator("#question strong").inner_text() == "route"
    thread_url = page.url
    page.get_by_role("button", name="Sign out").click()

    # Someone else answers, with markdown that tries to run script.
    page.goto(thread_url)
    page.get_by_role("textbox", name="Your reply").fill(HOSTILE)
    page.get_by_role("button", name="Post reply").click()
    _sign_up(page, live_server, mailbox, "Grace Hopper", "grace@example.com")
    page.wait_for_url("**#reply-*")
    reply = page.locator("article.reply").first
    assert "posthog.init('key')" in reply.locator("pre code").inner_text()
    page.get_by_role("button", name="Sign out").click()

    # The asker accepts it.
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.goto(thread_url)
    page.get_by_role("button", name="Accept as answer").click()
    page.wait_for_url("**#reply-*")
    assert "Accepted answer" in page.locator("article.reply.accepted").inner_text()
    assert "Resolved" in page.locator("#question .badge").first.inner_text()

    # Nothing executable survived: no dialog opened; the payloads are text, not elements.
    reply_body = page.locator("article.reply.accepted .post-body")
    for element in reply_body.locator("*").all():
        element.hover()
    assert page.dialogs == []
    assert reply_body.locator("script, img, [onerror], a[href^='javascript']").count() == 0
    assert '<img src=x onerror="alert(1)">' in reply_body.inner_text()

    page.goto(f"{live_server}/pages?url={quote(DOC + '/')}")
    assert "Recordings stop after navigation" in page.content()
    assert "Answer by Grace Hopper" in page.content()
