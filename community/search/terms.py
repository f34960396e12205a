"""What a person typed, turned into a query the database can only read as data.

Both databases get the same query. The text is parsed here, once, with the rules of PostgreSQL's
``websearch_to_tsquery`` (words are all required, ``"a phrase"``, ``or`` between two words,
``-word`` to leave out), and only words made of letters and digits survive. From that parse:

- PostgreSQL gets a websearch string rebuilt from those words (bound as a parameter), so its own
  parser sees nothing but words, quotes, ``-`` and ``or``.
- SQLite gets an FTS5 query in which every word and phrase is a double-quoted string. FTS5 parses
  the argument of ``MATCH`` as a query language even when it is a bound parameter, so nothing the
  person typed (``NEAR(``, ``*``, ``^``, ``:``, an unbalanced quote or parenthesis) may reach it
  unquoted.

English stop words are dropped on both (PostgreSQL's ``english`` configuration drops them; FTS5
would otherwise require "how" and "to" to appear), so the same words decide on both databases.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field

# Longer input is cut, with a notice: nobody types a 10,000-character query on purpose.
MAX_QUERY_CHARS = 300
MAX_TERMS = 12
# Similar questions look at the significant words of a subject, and need two of them to match.
MAX_SIMILAR_TERMS = 8
MIN_SIMILAR_MATCHES = 2
# The looser tiers (three words, two) combine only this many of them, the rarest when the
# database can tell: a tier's cost grows with how many questions have each word in it, and rare
# words are the telling ones.
LOOSE_TIER_WORDS = 4

# PostgreSQL's english.stop (the Snowball list), so both databases ignore the same words.
_ENGLISH_STOP = """\
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against
    between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more
    most other some such no nor not only own same so than too very s t can will just don
    should now
"""
STOP_WORDS = frozenset(_ENGLISH_STOP.split())

# A word: letters and digits (not "_", which both databases' parsers split words on).
_WORD = re.compile(r"[^\W_]+")
# A "-" leaves out what follows only at the start of a word ("-beta"), as for
# websearch_to_tsquery; inside one ("self-hosting") it joins the parts into a phrase.
_LEAVE_OUT = r"(?:^|(?<=[\s(]))-"
_TOKEN = re.compile(rf'({_LEAVE_OUT})?"([^"]*)(?:"|$)|({_LEAVE_OUT})?([^\W_]+(?:-[^\W_]+)*)|(\S)')


@dataclass(frozen=True)
class Item:
    """A word or a phrase (several words in order), possibly excluded."""

    words: tuple[str, ...]
    excluded: bool = False

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


@dataclass
class ParsedQuery:
    """The search, as groups that must all match; the items of a group are alternatives (OR)."""

    text: str  # what was typed, trimmed and shortened: shown back in the search box
    groups: list[list[Item]] = field(default_factory=list)
    excluded: list[Item] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Nothing to look for (no words, only stop words, or only excluded words)."""
        return not self.groups

    def words(self) -> list[str]:
        return [word for group in self.groups for item in group for word in item.words]

    def exact_subject(self) -> str:
        """The typed text as a subject would be written, to spot a subject typed exactly."""
        return subject_key(self.text)

    # -- rendering for each database -------------------------------------------------------------

    def websearch(self) -> str:
        """For PostgreSQL's ``websearch_to_tsquery``: only words, quotes, ``-`` and ``or``."""
        parts = [" or ".join(_web_item(item) for item in group) for group in self.groups]
        parts += [_web_item(item) for item in self.excluded]
        return " ".join(parts)

    def fts5(self) -> str:
        """For SQLite's FTS5 ``MATCH``: every word and phrase quoted."""
        required = " AND ".join(
            "(" + " OR ".join(fts5_string(item.words) for item in group) + ")"
            for group in self.groups
        )
        if not self.excluded:
            return required
        left_out = " OR ".join(fts5_string(item.words) for item in self.excluded)
        return f"({required}) NOT ({left_out})"


def _web_item(item: Item) -> str:
    text = " ".join(item.words)
    if item.is_phrase:
        text = f'"{text}"'
    return f"-{text}" if item.excluded else text


def fts5_string(words: tuple[str, ...] | list[str]) -> str:
    """An FTS5 string (a word, or a phrase when there are several): quoted, quotes doubled."""
    return '"' + " ".join(words).replace('"', '""') + '"'


def normalise(text: str) -> str:
    """NFKC (full-width letters, ligatures), no control characters, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Cs"} else ch for ch in text)
    return " ".join(text.split())


def subject_key(text: str) -> str:
    """A subject as compared for an exact match: lower case, without closing punctuation."""
    return normalise(text).lower().rstrip(" ?!.")


def parse(raw: str | None) -> ParsedQuery:
    """Parse a search the way ``websearch_to_tsquery`` reads it; never raises."""
    text = normalise(raw or "")
    notices = []
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0] or text[:MAX_QUERY_CHARS]
        notices.append(f"Your search was long: only its first {MAX_QUERY_CHARS} characters count.")
    query = ParsedQuery(text=text, notices=notices)
    or_pending = False  # an "or" right after a word (not after a left-out one)
    after_word = False
    count = 0
    for match in _TOKEN.finditer(text):
        phrase_minus, phrase, word_minus, word, _other = match.groups()
        if phrase is not None:
            words = tuple(w.lower() for w in _WORD.findall(phrase))
            # A stop word inside a phrase still holds its place on PostgreSQL; drop a phrase of
            # nothing but stop words, as a lone stop word is dropped.
            if not words or all(w in STOP_WORDS for w in words):
                continue
            item = Item(words, excluded=bool(phrase_minus))
        elif word is not None:
            if word.lower() == "or" and not word_minus:
                or_pending = after_word
                continue
            parts = tuple(part.lower() for part in word.split("-"))
            if all(part in STOP_WORDS for part in parts):
                continue
            item = Item(parts, excluded=bool(word_minus))
        else:
            continue  # punctuation, operators, emoji: separators, as for both parsers
        if count >= MAX_TERMS:
            query.notices.append(f"Only the first {MAX_TERMS} words of your search count.")
            break
        count += 1
        if item.excluded:
            query.excluded.append(item)
        elif or_pending:
            query.groups[-1].append(item)
        else:
            query.groups.append([item])
        or_pending = False
        after_word = not item.excluded
    return query


# -- similar questions --------------------------------------------------------------------------


@dataclass
class SimilarQuery:
    """The significant words of a subject being typed; matches need ``MIN_SIMILAR_MATCHES``."""

    words: list[str]
    # The words, rarest first, when the database can tell; else the order typed.
    rarest: list[str] | None = None

    @property
    def is_empty(self) -> bool:
        return not self.words

    @property
    def pool(self) -> list[str]:
        """The words the looser tiers combine: all of them, or the rarest few."""
        if len(self.words) <= LOOSE_TIER_WORDS:
            return self.words
        return (self.rarest or self.words)[:LOOSE_TIER_WORDS]

    def tiers(self) -> list[int]:
        """How many words a match must share, most first: all of them, then all but one of
        the pool, then two (the least a suggestion needs). Each tier is looked up on its own,
        so the closest subjects are among the candidates however many share only two words."""
        count = len(self.words)
        looser = {len(self.pool) - 1, MIN_SIMILAR_MATCHES}
        return [
            count,
            *sorted((size for size in looser if MIN_SIMILAR_MATCHES <= size < count), reverse=True),
        ]

    def combinations(self, size: int) -> list[tuple[str, ...]]:
        """The sets of ``size`` words of which one must match entirely."""
        if size == len(self.words):
            return [tuple(self.words)]
        return list(itertools.combinations(self.pool, size))

    def fts5(self, size: int) -> str:
        return " OR ".join(
            "(" + " AND ".join(fts5_string([word]) for word in combination) + ")"
            for combination in self.combinations(size)
        )


def similar_terms(subject: str | None) -> SimilarQuery:
    """The first significant words of ``subject`` (no stop words, no repeats, at most eight)."""
    words: list[str] = []
    for word in _WORD.findall(normalise(subject or "")[:MAX_QUERY_CHARS].lower()):
        if word not in STOP_WORDS and word not in words and (len(word) > 1 or word.isdigit()):
            words.append(word)
        if len(words) == MAX_SIMILAR_TERMS:
            break
    return SimilarQuery(words)
