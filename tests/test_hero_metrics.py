"""Team metrics against hand-computed values on a fixed data set; the page, its charts, the
CSV export and their query counts."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from community.accounts.models import Role, User
from community.extensions import db
from community.hero import metrics, services
from community.hero.clock import Targets
from community.questions.models import Question, Team, Topic
from community.zendesk.models import ZendeskTopicPriority

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
# Two weeks in the past (Mondays), and "now" on the Wednesday of the second one.
W1, W2 = date(2026, 10, 5), date(2026, 10, 12)
NOW = datetime(2026, 10, 14, 12, 0, tzinfo=UTC)


def at(day: date, hours: int = 10) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=hours)


@pytest.fixture
def data(app, make):
    """Team Replay (topic under /docs/session-replay) and team Flags; questions published at
    fixed times with fixed times to first response. What each week should show is written
    next to it."""
    replay_topic = make.topic(name="Replay", prefix="/docs/session-replay")
    flags_topic = make.topic(name="Flags", prefix="/docs/flags")
    with app.app_context():
        replay = db.session.get(Topic, replay_topic).team_id
        flags = db.session.get(Topic, flags_topic).team_id
        db.session.add(ZendeskTopicPriority(topic_id=flags_topic, priority="high"))
        db.session.commit()
    asker, hero = make.user(), make.user(role=Role.TEAM)

    def question(
        topic: str, published: datetime, ttfr: timedelta | None, status: str = "answered"
    ) -> int:
        page = f"https://docs.example.com/docs/{topic}/page"
        ident = make.question(asker, page_url=page)
        make.update(
            Question,
            ident,
            published_at=published,
            created_at=published,
            first_response_at=published + ttfr if ttfr is not None else None,
            status=status if ttfr is not None or status == "resolved" else "unanswered",
        )
        return ident

    # Replay, week 1: 5 asked; answered after 5 min, 10 min, 30 min, 2 h; one never.
    # Sorted answered times: 300, 600, 1800, 7200 (n = 4): median = rank ceil(2) = 600,
    # p90 = rank ceil(3.6) = 4 -> 7200. Within 15 min: 2/5, 1 h: 3/5, 1 day: 4/5.
    # Two resolved: 2/5.
    question("session-replay", at(W1, 9), 5 * MINUTE, "resolved")
    question("session-replay", at(W1, 10), 10 * MINUTE, "resolved")
    question("session-replay", at(W1, 11), 30 * MINUTE)
    question("session-replay", at(W1 + timedelta(days=2)), 2 * HOUR)
    question("session-replay", at(W1 + timedelta(days=6), 23), None)
    # Replay, week 2: 3 asked; answered after exactly 15 min (not "within 15 min"), 25 h and 1 h.
    # Sorted: 900, 3600, 90000 (n = 3): median = rank 2 -> 3600, p90 = rank ceil(2.7) = 3 ->
    # 90000. Within 15 min: 0/3, 1 h: 1/3 (900 only: 3600 is not under an hour), 1 day: 2/3.
    # None resolved.
    question("session-replay", at(W2, 8), 15 * MINUTE)
    question("session-replay", at(W2, 9), 25 * HOUR)
    question("session-replay", at(W2 + timedelta(days=1)), HOUR)
    # Flags, week 2 only: 2 asked, one answered after 20 min (median = p90 = 1200), one not.
    # Within 15 min 0/2, 1 h 1/2, 1 day 1/2; one resolved (the answered one).
    question("flags", at(W2, 13), 20 * MINUTE, "resolved")
    question("flags", at(W2, 14), None)
    # Not counted: hidden, deleted, and outside the window (a week before W1; after NOW).
    hidden = question("session-replay", at(W1, 12), MINUTE)
    make.update(Question, hidden, hidden_at=NOW)
    deleted = question("flags", at(W2, 15), MINUTE)
    make.update(Question, deleted, deleted_at=NOW)
    question("session-replay", at(W1 - timedelta(days=7)), MINUTE)
    question("session-replay", NOW + HOUR, MINUTE)
    # A question without a topic, in week 2, answered after 3 h: team "No team".
    no_team = make.question(asker)
    make.update(
        Question,
        no_team,
        published_at=at(W2, 16),
        created_at=at(W2, 16),
        first_response_at=at(W2, 19),
        status="answered",
    )
    return {"replay": replay, "flags": flags, "hero": hero}


def test_weekly_numbers_match_the_hand_computed_ones(app, data):
    with app.app_context():
        rows = {(w.team_id, w.week): w for w in metrics.weekly(W1, NOW, Targets())}
    replay1 = rows[(data["replay"], W1)]
    assert (replay1.asked, replay1.answered) == (5, 4)
    assert (replay1.median_seconds, replay1.p90_seconds) == (600, 7200)
    assert replay1.within == (2, 3, 4)
    assert replay1.shares_within == (0.4, 0.6, 0.8)
    assert replay1.share_resolved == 0.4
    replay2 = rows[(data["replay"], W2)]
    assert (replay2.asked, replay2.answered) == (3, 3)
    assert (replay2.median_seconds, replay2.p90_seconds) == (3600, 90000)
    assert replay2.within == (0, 1, 2)
    assert replay2.resolved == 0
    flags2 = rows[(data["flags"], W2)]
    assert (flags2.asked, flags2.answered, flags2.median_seconds, flags2.p90_seconds) == (
        2,
        1,
        1200,
        1200,
    )
    assert flags2.within == (0, 1, 1) and flags2.resolved == 1
    assert (data["flags"], W1) not in rows
    no_team = rows[(metrics.NO_TEAM, W2)]
    assert (no_team.asked, no_team.median_seconds, no_team.within) == (1, 10800, (0, 0, 1))
    assert len(rows) == 4


def test_the_targets_decide_what_within_means(app, data):
    with app.app_context():
        rows = metrics.weekly(W1, NOW, Targets(MINUTE * 10, HOUR * 2, HOUR * 3), data["replay"])
    # Week 1: 300, 600, 1800, 7200 s -> under 10 min: 1; under 2 h: 3 (7200 is not); under
    # 3 h: 4. Week 2: 900, 3600, 90000 -> 0; 2; 2.
    assert [(w.week, w.within) for w in rows] == [(W1, (1, 3, 4)), (W2, (0, 2, 2))]


def test_the_backlog_by_priority_is_now(app, data):
    with app.app_context():
        found = metrics.backlog()
        question = db.session.scalar(sa.select(Question).where(Question.published_at == at(W2, 8)))
        services.set_urgent(db.session.get(User, _moderator(app)), question, True)
        db.session.commit()
        after = metrics.backlog(data["replay"])
    # Open now, whenever asked: Replay's unanswered and two unresolved of week 1, the three of
    # week 2, and the two outside the window; Flags' unanswered one (its topic is high).
    assert found[data["replay"]] == {"urgent": 0, "high": 0, "normal": 8, "low": 0}
    assert found[data["flags"]] == {"urgent": 0, "high": 1, "normal": 0, "low": 0}
    assert found[metrics.NO_TEAM] == {"urgent": 0, "high": 0, "normal": 1, "low": 0}
    assert after == {data["replay"]: {"urgent": 1, "high": 0, "normal": 7, "low": 0}}


def _moderator(app) -> int:
    from community.accounts import services as account_services
    from community.accounts.models import Role

    user = account_services.create_user(
        "metrics-mod@example.com",
        "Mod",
        "a long passphrase here",
        role=Role.MODERATOR,
        verified=True,
    )
    db.session.flush()
    return user.id


def test_the_report_fills_empty_weeks_and_orders_teams(app, data):
    with app.app_context():
        found = metrics.report(NOW, weeks=3)
    assert found.weeks == [W1 - timedelta(days=7), W1, W2]
    names = [t.name for t in found.teams]
    assert names[-1] == "No team"
    flags = next(t for t in found.teams if t.team_id == data["flags"])
    assert [w.asked for w in flags.weeks] == [0, 0, 2]
    assert flags.open_total == 1


# -- the page, the charts and the CSV -------------------------------------------------------------


def recent(make, topic: str, ago: timedelta, ttfr: timedelta | None) -> int:
    asker = make.user()
    question = make.question(asker, page_url=f"https://docs.example.com/docs/{topic}/x")
    moment = datetime.now(UTC) - ago
    make.update(
        Question,
        question,
        published_at=moment,
        created_at=moment,
        first_response_at=moment + ttfr if ttfr is not None else None,
        status="answered" if ttfr is not None else "unanswered",
    )
    return question


@pytest.fixture
def this_week(app, make):
    topic = make.topic(name="Replay", prefix="/docs/session-replay")
    with app.app_context():
        team = db.session.get(Team, db.session.get(Topic, topic).team_id)
        name, slug = team.name, team.slug
    # Asked this week (a minute ago at the latest): 10 min and 2 h to respond; one waiting.
    recent(make, "session-replay", 3 * MINUTE, None)
    recent(make, "session-replay", 2 * MINUTE, 10 * MINUTE)
    recent(make, "session-replay", MINUTE, 2 * HOUR)
    return {"name": name, "slug": slug}


def figures(page: str) -> dict[str, dict]:
    """Each chart on the page by its visible caption: its unit, accessible name, y-axis tick
    labels and gridlines, the names under the bars, the legend, and each mark's exact value."""
    found = {}
    for figure in re.findall(r'<figure class="chart-figure">.*?</figure>', page, re.S):
        caption = re.search(r'<figcaption><span class="chart-caption">([^<]*)</span>', figure)[1]
        found[caption] = {
            "unit": re.search(r'<span class="chart-unit">\(([^<]*)\)</span>', figure)[1],
            "label": re.search(r'<svg class="chart"[^>]* aria-label="([^"]*)"', figure)[1],
            "ticks": re.findall(r'<text class="chart-tick"[^>]*>([^<]*)</text>', figure),
            "grid": figure.count('<line class="chart-grid"'),
            "names": re.findall(r'<text class="chart-name"[^>]*>([^<]*)</text>', figure),
            "legend": re.findall(r'<li><svg class="chart-swatch".*?</svg>([^<]*)</li>', figure),
            "marks": re.findall(r'<rect class="series-[^"]+"[^>]*><title>([^<]*)</title>', figure),
        }
    return found


def test_the_metrics_page_shows_charts_with_the_numbers_beside_them(client, auth, make, this_week):
    auth.login_as(make.user(role=Role.TEAM))
    page = client.get("/moderation/metrics").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 4
    main = page.split("<main", 1)[1].split("</main>")[0]
    assert "<script" not in main and "style=" not in main
    table = page[page.index('class="table metrics-table"') :]
    row = table[: table.index("</tr>", table.index("<tbody>"))]
    # This week's row is the last: 3 asked; median 10 min (rank 1 of 2), p90 2.0 h; 1/3 within
    # 15 min and 1 h, 2/3 within a day; none resolved.
    last = table[table.rindex("<tr>") :]
    for cell in (
        "<td>3</td>",
        "<td>10 min</td>",
        "<td>2.0 h</td>",
        "<td>33%</td>",
        "<td>67%</td>",
        "<td>0%</td>",
    ):
        assert cell in last, cell
    assert '<th scope="row">' in row
    assert "Open now: 3" in page
    assert (
        '<th scope="col">≤ 15 min</th><th scope="col">≤ 1 h</th><th scope="col">≤ 1 day</th>'
        in page
    )


def test_each_chart_says_what_it_shows_with_a_scale_and_a_legend(client, auth, make, this_week):
    auth.login_as(make.user(role=Role.TEAM))
    page = client.get("/moderation/metrics").get_data(as_text=True)
    charts = figures(page)
    assert list(charts) == [
        "Questions asked per week",
        "Median time to first response per week",
        "First responses within the targets per week",
        "Open now by priority",
    ]
    monday = metrics.week_start(datetime.now(UTC).date())
    weeks = [(monday - timedelta(weeks=n)).strftime("%-d %b") for n in range(7, -1, -1)]
    team = this_week["name"]

    asked = charts["Questions asked per week"]
    assert asked["unit"] == "questions"
    assert asked["label"] == f"{team}: Questions asked per week (questions)"
    # 3 asked this week, none before: the axis runs 0 to 3 in whole questions.
    assert asked["ticks"] == ["0", "1", "2", "3"] and asked["grid"] == 4
    assert asked["names"] == weeks and asked["legend"] == []
    assert asked["marks"] == [f"{week}: 0" for week in weeks[:-1]] + [f"{weeks[-1]}: 3"]

    median = charts["Median time to first response per week"]
    assert median["unit"] == "minutes"
    # Answered after 10 min and 2 h: the median is 10 min, the top of a 0-5-10 axis.
    assert median["ticks"] == ["0", "5", "10"] and median["grid"] == 3
    assert median["marks"] == [f"{weeks[-1]}: 10 min"] and median["legend"] == []

    within = charts["First responses within the targets per week"]
    assert within["unit"] == "% of questions asked"
    assert within["ticks"] == ["0%", "25%", "50%", "75%", "100%"] and within["grid"] == 5
    assert within["legend"] == ["within 15 min", "within 1 h", "within 1 day", "later or not yet"]
    assert within["marks"] == [
        f"{weeks[-1]}: within 15 min 1 of 3 (33%)",
        f"{weeks[-1]}: within 1 day 1 of 3 (33%)",
        f"{weeks[-1]}: later or not yet 1 of 3 (33%)",
    ]

    backlog = charts["Open now by priority"]
    assert backlog["unit"] == "questions"
    assert backlog["ticks"] == ["0", "1", "2", "3"]
    assert backlog["names"] == backlog["legend"] == ["urgent", "high", "normal", "low"]
    assert backlog["marks"] == ["urgent: 0", "high: 0", "normal: 3", "low: 0"]


def test_the_csv_export_has_the_same_numbers(client, auth, make, this_week):
    auth.login_as(make.moderator())
    response = client.get(f"/moderation/metrics.csv?team={this_week['slug']}&weeks=2")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2
    assert rows[0]["asked"] == "0" and rows[0]["median_first_response_seconds"] == ""
    now = rows[1]
    assert (now["team"], now["asked"], now["answered"]) == (this_week["name"], "3", "2")
    assert (now["median_first_response_seconds"], now["p90_first_response_seconds"]) == (
        "600",
        "7200",
    )
    assert (
        now["share_within_15_min"],
        now["share_within_60_min"],
        now["share_within_1440_min"],
    ) == (
        "0.3333",
        "0.3333",
        "0.6667",
    )
    assert (now["share_resolved"], now["open_normal_now"], now["open_urgent_now"]) == (
        "0.0000",
        "3",
        "0",
    )


def test_csv_cells_cannot_become_formulas(app, client, auth, make):
    topic = make.topic(name="Sheet", prefix="/docs/sheet")
    with app.app_context():
        db.session.get(Team, db.session.get(Topic, topic).team_id).name = '=HYPERLINK("x")'
        db.session.commit()
    recent(make, "sheet", MINUTE, None)
    auth.login_as(make.moderator())
    text = client.get("/moderation/metrics.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text


def test_members_cannot_see_metrics(client, auth, make):
    assert client.get("/moderation/metrics").status_code == 302  # to sign in
    auth.login_as(make.user())
    assert client.get("/moderation/metrics").status_code == 403
    assert client.get("/moderation/metrics.csv").status_code == 403


@pytest.mark.parametrize("weeks", ["0", "-3", "99999", "x"])
def test_odd_week_counts_are_clamped(client, auth, make, weeks):
    auth.login_as(make.moderator())
    assert client.get(f"/moderation/metrics?weeks={weeks}").status_code == 200


def test_the_metrics_page_runs_a_fixed_number_of_queries(
    client, auth, make, count_queries, this_week
):
    auth.login_as(make.moderator())

    def count() -> int:
        with count_queries() as statements:
            assert client.get("/moderation/metrics?weeks=12").status_code == 200
        return len(statements)

    few = count()
    for n in range(4):
        make.topic(name=f"Topic {n}", prefix=f"/docs/t{n}")
        recent(make, f"t{n}", (n + 1) * 8 * 24 * HOUR, 5 * MINUTE)
    assert count() == few
    # user; teams; runtime settings; the weeks; the backlog
    assert few == 5


def test_the_charts_scale_and_escape():
    from community.hero import charts

    svg = str(charts.bars("<Team> asked", "questions", ["a", "b"], [2, 4], about="<Team>"))
    heights = [float(h) for h in re.findall(r'height="([0-9.]+)" fill="[^"]+"><title>', svg)]
    assert heights[1] == pytest.approx(2 * heights[0])
    assert "&lt;Team&gt; asked" in svg and "<Team>" not in svg
    # The tallest bar reaches the top tick's gridline (4 is on the 0-1-2-3-4 scale).
    assert re.findall(r'<text class="chart-tick"[^>]*>([^<]*)<', svg) == ["0", "1", "2", "3", "4"]
    top_line = re.findall(r'<line class="chart-grid" x1="\S+" y1="([0-9.]+)"', svg)[-1]
    assert re.findall(r'<rect class="series-count" x="\S+" y="([0-9.]+)"', svg)[1] == top_line
    stacked = str(
        charts.stacks(
            "shares", "%", ["w"], [[1, 1, 0, 2]], charts.rating_series(["a", "b", "c", "d"])
        )
    )
    assert stacked.count("<rect") == 3 + 4  # three parts, and four swatches in the legend
    assert "a 1 of 4 (25%)" in stacked
    assert re.findall(r'<li><svg class="chart-swatch".*?</svg>([^<]*)</li>', stacked) == list(
        "abcd"
    )


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (0, [0, 1]),
        (3, [0, 1, 2, 3]),
        (5, [0, 2, 4, 6]),
        (10, [0, 5, 10]),
        (47, [0, 20, 40, 60]),
        (120, [0, 50, 100, 150]),
        (1500, [0, 500, 1000, 1500]),
    ],
)
def test_the_y_axis_runs_from_0_to_a_round_number_at_or_above_the_top(top, ticks):
    from community.hero import charts

    assert charts.scale(top) == ticks


def test_many_weeks_name_every_few_bars_ending_with_this_one():
    from community.hero import charts

    names = [f"w{n}" for n in range(52)]
    svg = str(charts.bars("Asked", "questions", names, [1] * 52))
    shown = re.findall(r'<text class="chart-name"[^>]*>([^<]*)</text>', svg)
    assert shown[-1] == "w51" and 6 <= len(shown) <= 10


@pytest.mark.parametrize(
    ("minutes", "label"),
    [(15, "15 min"), (60, "1 h"), (90, "90 min"), (120, "2 h"), (1440, "1 day"), (2880, "2 days")],
)
def test_targets_are_named_exactly(minutes, label):
    assert metrics.target_label(timedelta(minutes=minutes)) == label
