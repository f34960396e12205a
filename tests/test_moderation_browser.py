"""A moderator's day in a real browser: work the queues, claim, answer, hide spam, bulk-move, ban.

Each person has their own browser context (own cookies), clicks and types as a person would, and
finds things by role and label. Screenshots of the main states go to
``test-artifacts/screenshots/moderation-*.png`` for people to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from community.accounts.models import Role, User
from community.db import utcnow
from community.moderation.queries import QUEUE_TITLES
from community.questions.models import Question, Team, Topic
from tests.conftest import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
REPLAY_DOC = "https://docs.example.com/docs/session-replay/installation"
FLAGS_DOC = "https://docs.example.com/docs/feature-flags/local-evaluation"

OLDEST = "Recordings stop after a route change"
FLAGS = "Flag evaluates differently on the server"
SPAM = "CHEAP WATCHES best prices click here"
NEWEST = "How do I mask inputs in replays?"


# -- people and their browsers ---------------------------------------------------------------


@pytest.fixture
def open_tab(browser: Any) -> Iterator[Callable[[], Any]]:
    """A fresh browser context per person. A person answers "OK" to an "Are you sure?" dialog;
    each tab keeps the messages it was asked (``tab.dialogs``) for the test to check."""
    contexts = []

    def open_() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.dialogs = []

        def answer(dialog: Any) -> None:
            tab.dialogs.append(dialog.message)
            dialog.accept()

        tab.on("dialog", answer)
        return tab

    yield open_
    for context in contexts:
        context.close()


def sign_in(tab: Any, live_server: str, email: str) -> None:
    tab.goto(f"{live_server}/login")
    tab.get_by_label("Email").fill(email)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("button", name="Sign out").wait_for()


def screenshot(tab: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"moderation-{name}.png"), full_page=True)


def open_dashboard(tab: Any, link: str = "Moderation") -> None:
    tab.get_by_role("navigation", name="Account").get_by_role("link", name=link).click()
    tab.wait_for_url("**/moderation")


def open_queue(tab: Any, title: str) -> None:
    tab.get_by_role("navigation", name="Moderation").get_by_role(
        "link", name=title, exact=True
    ).click()
    expect_heading(tab, title)


def expect_heading(tab: Any, text: str) -> None:
    heading = tab.get_by_role("heading", level=1)
    heading.filter(has_text=text).wait_for()


def queue_subjects(tab: Any) -> list[str]:
    """The subjects listed in the queue on screen, top to bottom."""
    rows = tab.get_by_role("list", name="Questions in this queue")
    if rows.count() == 0:
        return []
    return [s.strip() for s in rows.get_by_role("heading", level=3).all_inner_texts()]


def row(tab: Any, subject: str) -> Any:
    """The queue row of the question with this subject."""
    return (
        tab.get_by_role("list", name="Questions in this queue")
        .get_by_role("listitem")
        .filter(has=tab.get_by_role("heading", name=subject, level=3, exact=True))
    )


def flash(tab: Any) -> str:
    return tab.get_by_role("status").first.inner_text()


# -- the community ---------------------------------------------------------------------------


@pytest.fixture
def community(make) -> dict[str, int]:
    """Two topics, a moderator, a team member, askers and a spammer, and four questions asked
    days apart; created in an order unlike their age, so "oldest first" is the page's doing."""
    people = {
        "moderator": make.moderator(name="Mia Moderator", email="mia@example.com"),
        "team": make.user(name="Theo Team", email="theo@example.com", role=Role.TEAM),
        "ada": make.user(name="Ada Lovelace", email="ada@example.com"),
        "grace": make.user(name="Grace Hopper", email="grace@example.com"),
        "spammer": make.user(name="Watch Seller", email="spammer@example.com"),
    }
    topics = {
        "replay": make.topic(name="Session replay", prefix="/docs/session-replay"),
        "flags": make.topic(name="Feature flags", prefix="/docs/feature-flags"),
    }
    for key, team_name in (("replay", "Replay"), ("flags", "Flags")):
        make.update(Team, make.get(Topic, topics[key]).team_id, name=team_name)
    make.update(User, people["team"], team_id=make.get(Topic, topics["replay"]).team_id)
    now = utcnow()
    asked = [
        (NEWEST, people["grace"], REPLAY_DOC, timedelta(hours=2)),
        (SPAM, people["spammer"], REPLAY_DOC, timedelta(days=1)),
        (OLDEST, people["ada"], REPLAY_DOC, timedelta(days=3)),
        (FLAGS, people["grace"], FLAGS_DOC, timedelta(days=2)),
    ]
    questions = {}
    for subject, author, doc, age in asked:
        ident = make.question(author, subject=subject, page_url=doc)
        make.update(Question, ident, created_at=now - age, published_at=now - age)
        questions[subject] = ident
    return {**people, **{f"topic:{k}": v for k, v in topics.items()}, **questions}


# -- 1. the first-response queue -------------------------------------------------------------


def test_moderator_claims_and_answers_from_the_first_response_queue(
    live_server, open_tab, community
):
    mia = open_tab()
    sign_in(mia, live_server, "mia@example.com")
    open_dashboard(mia)
    expect_heading(mia, "Needs first response")
    assert queue_subjects(mia) == [OLDEST, FLAGS, SPAM, NEWEST]
    assert "Ada Lovelace" in row(mia, OLDEST).inner_text()
    screenshot(mia, "first-response")
    mia.set_viewport_size({"width": 390, "height": 844})  # a phone
    screenshot(mia, "first-response-phone")
    mia.set_viewport_size({"width": 1280, "height": 800})

    # Only Session replay.
    filters = mia.get_by_role("search", name="Filter the queue")
    filters.get_by_label("Topic").select_option(label="Session replay (Replay)")
    filters.get_by_role("button", name="Filter").click()
    mia.wait_for_url(re.compile(r"topic="))
    assert queue_subjects(mia) == [OLDEST, SPAM, NEWEST]

    # Claim the oldest: the row says so, and "Claimed by me" narrows to it.
    row(mia, OLDEST).get_by_role("button", name="Claim", exact=True).click()
    assert "It's yours" in flash(mia)
    claim = row(mia, OLDEST).locator(".claim")  # one line: who claimed it, and the way back
    assert "Claimed by you" in claim.inner_text()
    assert claim.get_by_role("button", name="Unclaim").count() == 1
    assert "Claimed by" not in row(mia, NEWEST).inner_text()
    filters.get_by_label("Claimed by me").focus()
    mia.keyboard.press("Space")  # the keyboard ticks it as well as the mouse
    filters.get_by_role("button", name="Filter").click()
    mia.wait_for_url(re.compile(r"mine=1"))
    assert queue_subjects(mia) == [OLDEST]
    screenshot(mia, "claimed-by-me")

    # Open it and answer with the reply form.
    row(mia, OLDEST).get_by_role("link", name=OLDEST).click()
    expect_heading(mia, OLDEST)
    mia.get_by_role("textbox", name="Your reply").fill(
        "Call `posthog.startSessionRecording()` again after the route change."
    )
    mia.get_by_role("button", name="Post reply").click()
    mia.wait_for_url("**#reply-*")
    assert "Mia Moderator" in mia.locator("article.reply").first.inner_text()
    screenshot(mia, "answered-thread")

    # It leaves "Needs first response" and waits in "Unresolved", answered by staff.
    open_dashboard(mia)
    assert OLDEST not in queue_subjects(mia)
    assert queue_subjects(mia) == [FLAGS, SPAM, NEWEST]
    open_queue(mia, "Unresolved")
    assert queue_subjects(mia) == [OLDEST]
    assert "first response after" in row(mia, OLDEST).inner_text().lower()
    assert mia.dialogs == []


# -- 2. a member flags spam; the moderator hides it ------------------------------------------


def test_member_flags_spam_and_the_moderator_hides_it(live_server, open_tab, community):
    # Grace reports the spam question from its thread.
    grace = open_tab()
    sign_in(grace, live_server, "grace@example.com")
    grace.get_by_role("navigation", name="Main").get_by_role("link", name="Questions").click()
    grace.get_by_role("link", name=SPAM).click()
    expect_heading(grace, SPAM)
    thread_url = grace.url
    grace.get_by_role("link", name="Flag", exact=True).click()
    expect_heading(grace, "Flag this question")
    grace.get_by_role("radio", name="Spam or advertising").check()
    grace.get_by_label("Anything the moderators should know?").fill("Sells watches, nothing else.")
    grace.get_by_role("button", name="Flag it").click()
    assert "a moderator will look at it" in flash(grace)

    # Mia sees it in the Flagged queue, with the reason and who reported it, and hides it.
    mia = open_tab()
    sign_in(mia, live_server, "mia@example.com")
    open_dashboard(mia)
    open_queue(mia, "Flagged")
    flagged = (
        mia.get_by_role("list", name="Flagged posts")
        .get_by_role("listitem")
        .filter(has=mia.get_by_role("heading", name=SPAM, level=3))
    )
    text = flagged.inner_text()
    assert "1 flag" in text
    assert "spam" in flagged.locator(".badge").all_inner_texts()
    assert "Grace Hopper: spam — “Sells watches, nothing else.”" in text
    assert "Watch Seller" in text  # the author, linked to their moderation page
    screenshot(mia, "flagged")
    flagged.get_by_role("button", name="Hide as spam").click()
    assert flash(mia) == "Hidden."
    assert "Nothing is flagged" in mia.get_by_role("main").inner_text()

    # Moderators still find it, under "Hidden and deleted"...
    open_queue(mia, "Hidden and deleted")
    assert queue_subjects(mia) == [SPAM]
    assert "Hidden" in row(mia, SPAM).inner_text()

    # ...and for a visitor it is gone: the thread is a 404 and the list doesn't have it.
    visitor = open_tab()
    assert visitor.goto(thread_url).status == 404
    visitor.goto(f"{live_server}/questions")
    listed = visitor.get_by_role("main").inner_text()
    assert SPAM not in listed
    assert OLDEST in listed and NEWEST in listed
    assert grace.dialogs == mia.dialogs == []


# -- 3. bulk move, a ban, the audit log ------------------------------------------------------


def test_bulk_move_then_ban_the_spammer_and_read_the_audit_log(
    live_server, open_tab, community, make
):
    privacy = make.topic(name="Privacy", prefix=None)
    make.update(Team, make.get(Topic, privacy).team_id, name="Privacy team")
    casino = "Best casino bonus no deposit"
    make.question(community["spammer"], subject=casino)

    visitor = open_tab()
    visitor.goto(f"{live_server}/questions")
    assert casino in visitor.get_by_role("main").inner_text()
    spammer = open_tab()
    sign_in(spammer, live_server, "spammer@example.com")

    # Tick two questions and move them to Privacy in one go.
    mia = open_tab()
    sign_in(mia, live_server, "mia@example.com")
    open_dashboard(mia)
    row(mia, OLDEST).get_by_role("checkbox").check()
    row(mia, NEWEST).get_by_role("checkbox").check()
    bulk = mia.get_by_role("form", name="Bulk actions")
    bulk.get_by_label("Action").select_option(label="Move to topic…")
    bulk.get_by_label("Topic").select_option(label="Privacy")
    screenshot(mia, "bulk-move")
    bulk.get_by_role("button", name="Apply").click()
    assert flash(mia) == "2 of 2 questions changed."
    assert mia.dialogs == ["Apply this to every ticked question?"]
    for subject in (OLDEST, NEWEST):
        assert "Privacy · Privacy team" in row(mia, subject).inner_text()
    assert "Feature flags · Flags" in row(mia, FLAGS).inner_text()

    # The asker link leads to the spammer's page; ban them with a reason.
    row(mia, SPAM).get_by_role("link", name="Watch Seller").click()
    expect_heading(mia, "Watch Seller")
    profile = mia.get_by_role("main").inner_text()
    assert SPAM in profile and casino in profile
    assert mia.get_by_role("button", name="Ban Watch").is_visible()
    mia.get_by_label("Reason").fill("Advertising watches and casinos")
    mia.get_by_label("Reason").press("Enter")  # submits the ban form
    assert flash(mia).startswith("Banned:")
    assert "Advertising watches and casinos" in mia.get_by_role("region", name="Ban").inner_text()
    screenshot(mia, "banned")

    # At once: the public list no longer has either of their questions, and they are signed out.
    visitor.reload()
    listed = visitor.get_by_role("main").inner_text()
    assert casino not in listed and SPAM not in listed
    assert OLDEST in listed
    spammer.reload()
    assert spammer.get_by_role("button", name="Sign out").count() == 0

    # The audit log lists the moves and the ban, newest first.
    mia.get_by_role("navigation", name="Moderation").get_by_role("link", name="Audit log").click()
    expect_heading(mia, "Audit log")
    rows = [r.get_by_role("cell").all_inner_texts()[1:4] for r in mia.get_by_role("row").all()[1:]]
    assert rows[0] == ["Mia Moderator", "user.ban", f"user {community['spammer']}"]
    moved = [
        ["Mia Moderator", "question.move", f"question {community[s]}"] for s in (OLDEST, NEWEST)
    ]
    assert sorted(rows[1:]) == sorted(moved)  # one transaction: the two rows in either order
    assert "Advertising watches and casinos" in mia.get_by_role("table").inner_text()
    screenshot(mia, "audit-log")


# -- 4. a team member ------------------------------------------------------------------------


def test_team_member_sees_the_team_queues_claims_and_cannot_read_the_audit_log(
    live_server, open_tab, community
):
    theo = open_tab()
    sign_in(theo, live_server, "theo@example.com")
    open_dashboard(theo, link="Queues")
    expect_heading(theo, "Needs first response")
    queues = theo.get_by_role("navigation", name="Moderation").get_by_role("link")
    # The hero's own pages (My team, saved replies, metrics, feature requests), then the queues
    # a team member works: none of the moderators' queues, logs or settings.
    links = queues.all_inner_texts()
    assert [t for t in links if t in QUEUE_TITLES.values()] == [
        "Needs first response",
        "Waiting on us",
        "Unresolved",
    ]
    assert not {"Pending", "Flagged", "Hidden and deleted", "Audit log", "Settings"} & set(links)
    assert queue_subjects(theo) == [OLDEST, FLAGS, SPAM, NEWEST]
    # Answering, not moderating: no bulk actions, no ticks, no thread controls.
    assert theo.get_by_role("form", name="Bulk actions").count() == 0
    assert theo.get_by_role("checkbox", name=re.compile("^Select")).count() == 0
    assert theo.get_by_role("group", name="Moderation").count() == 0
    # The asker is named, not linked: their moderation page is for moderators.
    assert "Ada Lovelace" in row(theo, OLDEST).inner_text()
    assert row(theo, OLDEST).get_by_role("link", name="Ada Lovelace").count() == 0

    row(theo, FLAGS).get_by_role("button", name="Claim", exact=True).click()
    assert "It's yours" in flash(theo)
    assert "Claimed by you" in row(theo, FLAGS).inner_text()
    screenshot(theo, "team-queue")

    assert theo.goto(f"{live_server}/moderation/audit").status == 403
    assert theo.goto(f"{live_server}/moderation?queue=flagged").status == 403
    assert theo.dialogs == []
