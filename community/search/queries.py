"""Search over public questions and their replies, and "similar questions" for the ask forms.

One service for both databases: the person's text is parsed once (``terms``) and reaches the
database only as bound parameters. PostgreSQL ranks a trigger-maintained ``tsvector`` (GIN index)
with ``ts_rank_cd``; SQLite ranks its FTS5 table with ``bm25``. Both index one document per
public question (subject, body, accepted answer, other public replies, in falling weight: see
migration 0013), so hidden, deleted and held posts are never found by anyone. Moderators search
like everyone else; their queues show the rest.

The score, highest first, is the same on both databases:

    4   when the subject is exactly what was typed (case and closing punctuation aside)
  + 2   when the subject alone matches the query
  + relevance in [0, 1): ts_rank_cd (divided by 1 + log of the document's length) or bm25,
        each as r / (r + 1); times 1.5 with an accepted answer

Only a bounded set of candidates is ranked: up to ``RANKED_CANDIDATES`` questions whose subject
is exactly the search, as many whose subject matches, and as many whose document matches, so a
query that matches a large part of the community costs about what a narrow one does. Beyond that
many matches, the ones ranked are the newest (SQLite) or the first the index scan returns
(PostgreSQL, in table order): an exact subject still comes first, but the best of thousands of
subject or body matches may be missed.

Similar questions are public questions whose *subject* shares the significant words of the
subject being typed: all of them, or three, or at least two of its four rarest (or its only one).
Those tiers are asked in turn, up to ``SIMILAR_CANDIDATES`` candidates each, until five are
found, so the closest subjects are ranked however many share only two words; then relevance,
with a bonus for the same doc page and for resolved questions.

A search page costs two queries: the ranked ids of one page, then those questions with what a
list shows of them and their highlighted subject and excerpt. A similar-questions lookup costs
one query per tier it asks: one when a close subject exists, three at most.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import joinedload

from community.extensions import db
from community.questions.models import (
    Page,
    Question,
    QuestionStatus,
    Team,
    Topic,
    question_pages,
    slugify,
)
from community.search import highlight, terms

RANKED_CANDIDATES = 300
SIMILAR_CANDIDATES = 300
PER_PAGE = 20
MAX_RESULTS = 1000  # offsets stop here: nobody reads the fiftieth page of a search
SIMILAR_LIMIT = 5

CONFIG = "english"  # PostgreSQL's text search configuration, as in migration 0013
FTS_TABLE = "questions_search"  # SQLite: the FTS5 table of migration 0013
FTS_WEIGHTS = (10.0, 4.0, 2.0, 1.0)  # bm25 weights: subject, body, accepted answer, replies
# ts_rank_cd divided by 1 + log(document length), as bm25 favours the shorter of two documents.
RANK_NORMALISATION = 1
ACCEPTED_BOOST = 1.5
SAME_PAGE_BONUS = 0.5
RESOLVED_BONUS = 0.25

SUBJECT_HEADLINE = f"HighlightAll=true, StartSel={highlight.START}, StopSel={highlight.STOP}"
BODY_HEADLINE = (
    'MaxFragments=2, MaxWords=24, MinWords=12, ShortWord=2, FragmentDelimiter=" … ", '
    f"StartSel={highlight.START}, StopSel={highlight.STOP}"
)
EXCERPT_TOKENS = 24


@dataclass
class OffsetCursor:
    """Where the next page of results starts (the API's ``next_cursor``): an offset, since
    results are ordered by score, which no index can seek to."""

    offset: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"offset:{self.offset}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> OffsetCursor | None:
        if not text or len(text) > 40:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        kind, _, number = raw.partition(":")
        if kind != "offset" or not (number.isascii() and number.isdigit()) or len(number) > 4:
            return None
        offset = int(number)
        return cls(offset) if 0 < offset < MAX_RESULTS else None


@dataclass
class SearchFilters:
    topic: Topic | None = None
    team: Team | None = None
    status: QuestionStatus | None = None
    page_prefix: str = ""  # the start of doc page addresses, e.g. https://docs.example.com/replay/


@dataclass
class Hit:
    question: Question
    subject_html: Markup  # escaped, with <mark> around matched words
    excerpt_html: Markup  # from the body, likewise
    score: float


@dataclass
class SearchResults:
    query: terms.ParsedQuery
    hits: list[Hit] = field(default_factory=list)
    offset: int = 0
    has_next: bool = False

    @property
    def notices(self) -> list[str]:
        return self.query.notices

    @property
    def next_cursor(self) -> OffsetCursor | None:
        return OffsetCursor(self.offset + len(self.hits)) if self.has_next else None


@dataclass
class SimilarQuestion:
    id: int
    subject: str
    status: str
    reply_count: int
    same_page: bool
    score: float

    @property
    def slug(self) -> str:
        return slugify(self.subject)

    @property
    def resolved(self) -> bool:
        return self.status == QuestionStatus.RESOLVED.value


# -- search ---------------------------------------------------------------------------------------


def search(
    text: str | terms.ParsedQuery | None,
    filters: SearchFilters | None = None,
    *,
    offset: int = 0,
    limit: int = PER_PAGE,
) -> SearchResults:
    """Public questions matching ``text``, best first: ``limit`` of them from ``offset``.

    An empty query (no words, only stop words, only excluded words) finds nothing and runs no
    query; ``results.query.is_empty`` tells the caller to ask for words.
    """
    query = text if isinstance(text, terms.ParsedQuery) else terms.parse(text)
    results = SearchResults(query, offset=max(0, offset))
    if query.is_empty or results.offset >= MAX_RESULTS:
        return results
    backend = _backend()
    conditions = [_public(), *_filter_conditions(filters or SearchFilters())]
    ranked = db.session.execute(
        backend.ranked(query, conditions).limit(limit + 1).offset(results.offset)
    ).all()
    results.has_next = len(ranked) > limit and results.offset + limit < MAX_RESULTS
    ranked = ranked[:limit]
    if not ranked:
        return results
    loaded = backend.load_with_highlights(query, [row.id for row in ranked])
    for row in ranked:
        question, subject, excerpt = loaded[row.id]
        results.hits.append(
            Hit(
                question=question,
                subject_html=highlight.marked_html(subject),
                excerpt_html=highlight.excerpt_html(excerpt),
                score=float(row.score),
            )
        )
    return results


def similar(
    subject: str | None, *, page_url: str | None = None, limit: int = SIMILAR_LIMIT
) -> list[SimilarQuestion]:
    """Public questions like the one being asked: sharing at least two of its significant words
    (or its only one), the same page's and resolved ones preferred.

    The tiers (all the words; then three, then two of its four rarest words) are asked in turn,
    one query each, until ``limit`` questions are found: a subject close to an existing one
    stops after the first, cheap query. On PostgreSQL, which words are rare comes from the
    statistics of the subject index (one more query every ten minutes).
    """
    wanted = terms.similar_terms(subject)
    if wanted.is_empty:
        return []
    backend = _backend()
    wanted.rarest = backend.rarest_first(wanted.words)
    found: dict[int, SimilarQuestion] = {}
    for size in wanted.tiers():
        candidates = backend.similar_candidates(wanted, size, [_public()]).subquery("candidates")
        if found:
            candidates = (
                sa.select(candidates).where(candidates.c.id.not_in(found)).subquery("others")
            )
        for row in db.session.execute(_similar_scored(candidates, page_url, limit)):
            found[row.id] = SimilarQuestion(
                id=row.id,
                subject=row.subject,
                status=row.status,
                reply_count=row.reply_count,
                same_page=bool(row.same_page),
                score=float(row.score),
            )
        if len(found) >= limit:
            break
    return sorted(found.values(), key=lambda item: (item.score, item.id), reverse=True)[:limit]


def _similar_scored(candidates: sa.Subquery, page_url: str | None, limit: int) -> sa.Select:
    if page_url:
        on_page = candidates.c.id.in_(
            sa.select(question_pages.c.question_id)
            .join(Page, Page.id == question_pages.c.page_id)
            .where(Page.url == page_url)
        )
    else:
        on_page = sa.false()
    same_page = sa.case((on_page, 1), else_=0)
    resolved = sa.case((candidates.c.status == QuestionStatus.RESOLVED.value, 1), else_=0)
    score = (
        candidates.c.relevance + same_page * SAME_PAGE_BONUS + resolved * RESOLVED_BONUS
    ).label("score")
    return (
        sa.select(
            candidates.c.id,
            candidates.c.subject,
            candidates.c.status,
            candidates.c.reply_count,
            same_page.label("same_page"),
            score,
        )
        .order_by(score.desc(), candidates.c.id.desc())
        .limit(limit)
    )


# -- what both databases share ----------------------------------------------------------------


def _public() -> sa.ColumnElement[bool]:
    return sa.and_(
        Question.published_at.is_not(None),
        Question.hidden_at.is_(None),
        Question.deleted_at.is_(None),
    )


def _filter_conditions(filters: SearchFilters) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if filters.topic is not None:
        conditions.append(Question.topic_id == filters.topic.id)
    if filters.team is not None:
        conditions.append(
            Question.topic_id.in_(sa.select(Topic.id).where(Topic.team_id == filters.team.id))
        )
    if filters.status is not None:
        conditions.append(Question.status == filters.status.value)
    if filters.page_prefix:
        conditions.append(
            Question.origin_page_id.in_(
                sa.select(Page.id).where(Page.url.startswith(filters.page_prefix, autoescape=True))
            )
        )
    return conditions


def _subject_key(subject: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """The subject as compared for an exact match (terms.subject_key, in SQL; a constant
    argument, so PostgreSQL's ix_questions_search_subject_key serves it)."""
    return sa.func.lower(sa.func.rtrim(subject, sa.literal_column("' ?!.'")))


def _score(
    subject: sa.ColumnElement[str],
    accepted_reply_id: sa.ColumnElement[int],
    query: terms.ParsedQuery,
    subject_matches: sa.ColumnElement[bool],
    relevance: sa.ColumnElement[float],
) -> sa.ColumnElement[float]:
    exact = sa.case((_subject_key(subject) == query.exact_subject(), 4.0), else_=0.0)
    covers = sa.case((subject_matches, 2.0), else_=0.0)
    boost = sa.case((accepted_reply_id.is_not(None), ACCEPTED_BOOST), else_=1.0)
    return exact + covers + relevance / (relevance + 1.0) * boost


def _list_options() -> list:
    return [
        joinedload(Question.author),
        joinedload(Question.topic),
        joinedload(Question.origin_page),
    ]


def _backend() -> type[_PostgreSQL] | type[_SQLite]:
    return _PostgreSQL if db.engine.dialect.name == "postgresql" else _SQLite


# -- PostgreSQL: the tsvector column and its GIN indexes -----------------------------------------

_CONFIG = sa.literal_column(f"'{CONFIG}'::regconfig")  # a constant, so index expressions match
_VECTOR = sa.literal_column("questions.search_vector", pg.TSVECTOR)
_SUBJECT_VECTOR = sa.func.to_tsvector(_CONFIG, Question.subject)  # ix_questions_search_subject
_SUBJECT_WEIGHT = sa.literal_column("'{a}'::\"char\"[]")


# How common each subject lexeme is (PostgreSQL's statistics of the subject index, from ANALYZE),
# per database, read again every few minutes: (read at, {lexeme: share of subjects}).
_SUBJECT_STATISTICS: dict[str, tuple[float, dict[str, float]]] = {}
STATISTICS_MAX_AGE_SECONDS = 600


class _PostgreSQL:
    @staticmethod
    def rarest_first(words: list[str]) -> list[str]:
        """``words``, the rarest in subjects first (those not among the most common count as
        rare); the order typed breaks ties and stands when there are no statistics yet."""
        frequencies = _subject_frequencies()

        def frequency(word: str) -> float:
            # The lexeme is the word's stem: nearly always the word or a prefix of it.
            for end in range(len(word), max(2, len(word) - 5), -1):
                if word[:end] in frequencies:
                    return frequencies[word[:end]]
            return 0.0

        return sorted(words, key=lambda word: (frequency(word), words.index(word)))

    @staticmethod
    def _tsquery(query: terms.ParsedQuery) -> sa.ColumnElement:
        return sa.func.websearch_to_tsquery(_CONFIG, sa.bindparam("search", query.websearch()))

    @classmethod
    def ranked(cls, query: terms.ParsedQuery, conditions: list) -> sa.Select:
        tsquery = cls._tsquery(query)

        def first_matches(condition: sa.ColumnElement[bool]) -> sa.Select:
            return (
                sa.select(
                    Question.id,
                    Question.subject,
                    Question.accepted_reply_id,
                    _VECTOR.label("vector"),
                )
                .where(condition, *conditions)
                .limit(RANKED_CANDIDATES)
            )

        # Questions whose subject is exactly the search, then those whose subject matches, are
        # candidates first, so the best ones are ranked however many bodies match too. A
        # question on several lists is ranked once.
        both = sa.union_all(
            first_matches(_subject_key(Question.subject) == query.exact_subject()),
            first_matches(_SUBJECT_VECTOR.op("@@")(tsquery)),
            first_matches(_VECTOR.op("@@")(tsquery)),
        ).subquery("lists")
        copy = sa.func.row_number().over(partition_by=both.c.id).label("copy")
        numbered = sa.select(both, copy).subquery("numbered")
        candidates = (
            sa.select(
                numbered.c.id, numbered.c.subject, numbered.c.accepted_reply_id, numbered.c.vector
            )
            .where(numbered.c.copy == 1)
            .subquery("candidates")
        )
        vector = candidates.c.vector
        score = _score(
            candidates.c.subject,
            candidates.c.accepted_reply_id,
            query,
            sa.func.ts_filter(vector, _SUBJECT_WEIGHT).op("@@")(tsquery),
            sa.func.ts_rank_cd(vector, tsquery, RANK_NORMALISATION),
        ).label("score")
        return sa.select(candidates.c.id, score).order_by(score.desc(), candidates.c.id.desc())

    @classmethod
    def load_with_highlights(
        cls, query: terms.ParsedQuery, ids: list[int]
    ) -> dict[int, tuple[Question, str, str]]:
        tsquery = cls._tsquery(query)
        markers = highlight.START + highlight.STOP
        rows = db.session.execute(
            sa.select(
                Question,
                sa.func.ts_headline(
                    _CONFIG,
                    sa.func.translate(Question.subject, markers, ""),
                    tsquery,
                    SUBJECT_HEADLINE,
                ),
                sa.func.ts_headline(
                    _CONFIG,
                    sa.func.translate(Question.body_source, markers, ""),
                    tsquery,
                    BODY_HEADLINE,
                ),
            )
            .where(Question.id.in_(ids))
            .options(*_list_options())
        ).unique()
        return {question.id: (question, subject, body) for question, subject, body in rows}

    @staticmethod
    def similar_candidates(wanted: terms.SimilarQuery, size: int, conditions: list) -> sa.Select:
        """Subjects sharing ``size`` of the words (through the subject's GIN index), ranked on
        the whole document by any of the words: a far smaller query than the match, and
        ts_rank_cd's cost grows quickly with the size of the query."""
        lexemes = {
            word: sa.func.plainto_tsquery(_CONFIG, sa.literal(word, sa.Text))
            for word in wanted.words
        }
        matching = None
        for combination in wanted.combinations(size):
            every = None
            for word in combination:
                every = lexemes[word] if every is None else every.op("&&")(lexemes[word])
            matching = every if matching is None else matching.op("||")(every)
        ranking = None
        for term in lexemes.values():
            ranking = term if ranking is None else ranking.op("||")(term)
        matches = (
            sa.select(
                Question.id,
                Question.subject,
                Question.status,
                Question.reply_count,
                _VECTOR.label("vector"),
            )
            .where(_SUBJECT_VECTOR.op("@@")(matching), *conditions)
            .limit(SIMILAR_CANDIDATES)
            .subquery("matches")
        )
        rank = sa.func.ts_rank_cd(matches.c.vector, ranking, RANK_NORMALISATION)
        return sa.select(
            matches.c.id,
            matches.c.subject,
            matches.c.status,
            matches.c.reply_count,
            (rank / (rank + 1.0)).label("relevance"),
        )


def _subject_frequencies() -> dict[str, float]:
    key = db.engine.url.render_as_string(hide_password=True)
    read_at, frequencies = _SUBJECT_STATISTICS.get(key, (0.0, {}))
    if time.monotonic() - read_at < STATISTICS_MAX_AGE_SECONDS:
        return frequencies
    row = db.session.execute(
        sa.text(
            "SELECT most_common_elems::text::text[] AS lexemes, "
            "most_common_elem_freqs AS shares FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'ix_questions_search_subject'"
        )
    ).first()
    frequencies = dict(zip(row.lexemes, row.shares, strict=False)) if row and row.lexemes else {}
    _SUBJECT_STATISTICS[key] = (time.monotonic(), frequencies)
    return frequencies


# -- SQLite: the FTS5 table ---------------------------------------------------------------------

_FTS = sa.table(FTS_TABLE, sa.column("rowid", sa.Integer))
_FTS_NAME = sa.literal_column(FTS_TABLE)


def _matches(fts5_query: str, name: str) -> sa.ColumnElement[bool]:
    return _FTS_NAME.op("MATCH")(sa.bindparam(name, fts5_query))


def _in_subject(fts5_query: str) -> str:
    return "{subject} : (" + fts5_query + ")"


class _SQLite:
    @staticmethod
    def rarest_first(words: list[str]) -> list[str]:
        """No statistics to tell: the order typed."""
        return list(words)

    @staticmethod
    def ranked(query: terms.ParsedQuery, conditions: list) -> sa.Select:
        def newest_matches(fts5_query: str, name: str, *also: sa.ColumnElement[bool]) -> sa.Select:
            newest = (
                sa.select(_FTS.c.rowid)
                .join(Question, Question.id == _FTS.c.rowid)
                .where(_matches(fts5_query, name), *also, *conditions)
                .order_by(_FTS.c.rowid.desc())
                .limit(RANKED_CANDIDATES)
                .subquery()
            )
            return sa.select(newest.c.rowid)  # SQLite takes no LIMIT inside a UNION's arms

        # As on PostgreSQL: questions whose subject is exactly the search, then those whose
        # subject matches, are candidates first.
        chosen = sa.union(
            newest_matches(
                _in_subject(query.fts5()),
                "exact_search",
                _subject_key(Question.subject) == query.exact_subject(),
            ),
            newest_matches(_in_subject(query.fts5()), "subject_search"),
            newest_matches(query.fts5(), "any_search"),
        ).subquery("chosen")
        relevance = -sa.func.bm25(_FTS_NAME, *FTS_WEIGHTS)
        candidates = (
            sa.select(
                Question.id,
                Question.subject,
                Question.accepted_reply_id,
                relevance.label("relevance"),
            )
            .select_from(_FTS)
            .join(Question, Question.id == _FTS.c.rowid)
            .where(_matches(query.fts5(), "search"), _FTS.c.rowid.in_(sa.select(chosen.c.rowid)))
            .subquery("candidates")
        )
        in_subject = candidates.c.id.in_(
            sa.select(_FTS.c.rowid).where(_matches(_in_subject(query.fts5()), "subject_only"))
        )
        score = _score(
            candidates.c.subject,
            candidates.c.accepted_reply_id,
            query,
            in_subject,
            candidates.c.relevance,
        ).label("score")
        return sa.select(candidates.c.id, score).order_by(score.desc(), candidates.c.id.desc())

    @staticmethod
    def load_with_highlights(
        query: terms.ParsedQuery, ids: list[int]
    ) -> dict[int, tuple[Question, str, str]]:
        start, stop = highlight.START, highlight.STOP
        rows = db.session.execute(
            sa.select(
                Question,
                sa.func.highlight(_FTS_NAME, 0, start, stop),
                sa.func.snippet(_FTS_NAME, 1, start, stop, " … ", EXCERPT_TOKENS),
            )
            .select_from(_FTS)
            .join(Question, Question.id == _FTS.c.rowid)
            .where(_matches(query.fts5(), "search"), _FTS.c.rowid.in_(ids))
            .options(*_list_options())
        ).unique()
        return {question.id: (question, subject, body) for question, subject, body in rows}

    @staticmethod
    def similar_candidates(wanted: terms.SimilarQuery, size: int, conditions: list) -> sa.Select:
        """The newest subjects sharing ``size`` of the words, ranked by bm25."""
        relevance = -sa.func.bm25(_FTS_NAME, *FTS_WEIGHTS)
        return (
            sa.select(
                Question.id,
                Question.subject,
                Question.status,
                Question.reply_count,
                (relevance / (relevance + 1.0)).label("relevance"),
            )
            .select_from(_FTS)
            .join(Question, Question.id == _FTS.c.rowid)
            .where(_matches(_in_subject(wanted.fts5(size)), "similar"), *conditions)
            .order_by(_FTS.c.rowid.desc())
            .limit(SIMILAR_CANDIDATES)
        )
