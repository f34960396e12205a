"""full-text search over public questions and their replies

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 20:10:00.000000

One search document per public question (hidden, deleted and held questions have none), kept
current by triggers, so a question is found the moment its transaction commits:

    subject           weight A   (FTS5 column "subject")
    body              weight B   (FTS5 column "body")
    accepted answer   weight C   (FTS5 column "answer")
    other replies     weight D   (FTS5 column "replies"; public replies only, first 100,000
                                  characters, so a huge thread never overflows a tsvector)

PostgreSQL: a tsvector column ``questions.search_vector`` (NULL unless the question is public)
with a GIN index, written by a BEFORE trigger on questions and refreshed by an AFTER trigger on
replies; a GIN index on public questions' subjects alone (``to_tsvector('english',
subject)``), for ranking subject matches first and for similar questions; and a btree index on
the subject as compared for an exact match (``lower(rtrim(subject, ' ?!.'))``).

SQLite: an FTS5 table ``questions_search`` whose external content is the view
``questions_search_source`` (the documents above), kept in sync by triggers on questions and
replies: each change removes the question's entry as the view shows it before the change (BEFORE
trigger) and adds it as the view shows it after (AFTER trigger). The view leaves out the two
control characters the highlighter marks matches with.

None of these objects are in the models' metadata (migrations/env.py leaves them out of
``flask db check``). On SQLite, a later migration that makes Alembic *rebuild* ``questions`` or
``replies`` (batch mode with a table copy; adding a column or an index does not) must call
``_drop_sqlite()`` first and ``_create_sqlite()`` after (copy them), or the rename fails on the
view ("error in view questions_search_source").
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


PUBLIC_Q = "q.published_at IS NOT NULL AND q.hidden_at IS NULL AND q.deleted_at IS NULL"
PUBLIC_R = "r.published_at IS NOT NULL AND r.hidden_at IS NULL AND r.deleted_at IS NULL"
REPLIES_MAX_CHARS = 100_000


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _create_postgresql()
    else:
        _create_sqlite()


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        _drop_postgresql()
    else:
        _drop_sqlite()


# -- PostgreSQL -----------------------------------------------------------------------------------

def _create_postgresql():
    op.execute("ALTER TABLE questions ADD COLUMN search_vector tsvector")
    op.execute(
        f"""
        CREATE FUNCTION questions_search_document(
            p_id integer, p_subject text, p_body text, p_accepted_reply_id integer,
            p_public boolean
        ) RETURNS tsvector LANGUAGE sql STABLE AS $$
            SELECT CASE WHEN p_public THEN
                setweight(to_tsvector('english', p_subject), 'A')
                || setweight(to_tsvector('english', p_body), 'B')
                || setweight(to_tsvector('english', coalesce((
                    SELECT r.body_source FROM replies r
                    WHERE r.id = p_accepted_reply_id AND r.question_id = p_id AND {PUBLIC_R}
                ), '')), 'C')
                || setweight(to_tsvector('english', left(coalesce((
                    SELECT string_agg(r.body_source, E'\\n' ORDER BY r.id) FROM replies r
                    WHERE r.question_id = p_id AND r.id IS DISTINCT FROM p_accepted_reply_id
                      AND {PUBLIC_R}
                ), ''), {REPLIES_MAX_CHARS})), 'D')
            END
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION questions_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.search_vector := questions_search_document(
                NEW.id, NEW.subject, NEW.body_source, NEW.accepted_reply_id,
                NEW.published_at IS NOT NULL AND NEW.hidden_at IS NULL AND NEW.deleted_at IS NULL
            );
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER questions_search_vector
        BEFORE INSERT OR UPDATE OF subject, body_source, accepted_reply_id, published_at,
            hidden_at, deleted_at
        ON questions FOR EACH ROW EXECUTE FUNCTION questions_search_vector_refresh()
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION replies_search_vector_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            affected integer[] := ARRAY[]::integer[];
        BEGIN
            -- Only a reply that is (or was) public changes what its question is found by.
            IF TG_OP <> 'INSERT' AND OLD.published_at IS NOT NULL AND OLD.hidden_at IS NULL
                    AND OLD.deleted_at IS NULL THEN
                affected := affected || OLD.question_id;
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.published_at IS NOT NULL AND NEW.hidden_at IS NULL
                    AND NEW.deleted_at IS NULL THEN
                affected := affected || NEW.question_id;
            END IF;
            IF cardinality(affected) > 0 THEN
                UPDATE questions q SET search_vector = questions_search_document(
                    q.id, q.subject, q.body_source, q.accepted_reply_id, {PUBLIC_Q}
                )
                WHERE q.id = ANY(affected);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER replies_search_vector
        AFTER INSERT OR DELETE OR UPDATE OF body_source, published_at, hidden_at, deleted_at,
            question_id
        ON replies FOR EACH ROW EXECUTE FUNCTION replies_search_vector_refresh()
        """
    )
    # Backfill: every existing public question gets its document now.
    op.execute(
        f"""
        UPDATE questions q SET search_vector = questions_search_document(
            q.id, q.subject, q.body_source, q.accepted_reply_id, {PUBLIC_Q}
        )
        WHERE {PUBLIC_Q}
        """
    )
    op.execute(
        "CREATE INDEX ix_questions_search_vector ON questions USING gin (search_vector)"
    )
    # Subjects alone: candidates whose subject matches are ranked first, and similar questions
    # are subjects sharing words with the one being typed.
    op.execute(
        "CREATE INDEX ix_questions_search_subject ON questions "
        "USING gin (to_tsvector('english'::regconfig, subject)) "
        f"WHERE {PUBLIC_Q.replace('q.', '')}"
    )
    # A subject exactly as typed (case and closing punctuation aside) is always ranked first.
    op.execute(
        "CREATE INDEX ix_questions_search_subject_key ON questions "
        "(lower(rtrim(subject, ' ?!.'))) "
        f"WHERE {PUBLIC_Q.replace('q.', '')}"
    )


def _drop_postgresql():
    op.execute("DROP TRIGGER IF EXISTS replies_search_vector ON replies")
    op.execute("DROP TRIGGER IF EXISTS questions_search_vector ON questions")
    op.execute("DROP FUNCTION IF EXISTS replies_search_vector_refresh()")
    op.execute("DROP FUNCTION IF EXISTS questions_search_vector_refresh()")
    op.execute("DROP INDEX IF EXISTS ix_questions_search_subject_key")
    op.execute("DROP INDEX IF EXISTS ix_questions_search_subject")
    op.execute("DROP INDEX IF EXISTS ix_questions_search_vector")
    op.execute("ALTER TABLE questions DROP COLUMN IF EXISTS search_vector")
    op.execute(
        "DROP FUNCTION IF EXISTS questions_search_document(integer, text, text, integer, boolean)"
    )


# -- SQLite ---------------------------------------------------------------------------------------

def _clean(expression):
    """The text without the highlighter's markers (char(2), char(3))."""
    return f"replace(replace({expression}, char(2), ''), char(3), '')"


SQLITE_COLUMNS = "subject, body, answer, replies"
# The question's entry as the view shows it now: removed before a change, added after it.
_REMOVE = (
    "INSERT INTO questions_search(questions_search, rowid, " + SQLITE_COLUMNS + ") "
    "SELECT 'delete', id, " + SQLITE_COLUMNS + " FROM questions_search_source WHERE id = {id};"
)
_ADD = (
    "INSERT INTO questions_search(rowid, " + SQLITE_COLUMNS + ") "
    "SELECT id, " + SQLITE_COLUMNS + " FROM questions_search_source WHERE id = {id};"
)
QUESTION_COLUMNS = "subject, body_source, accepted_reply_id, published_at, hidden_at, deleted_at"
REPLY_COLUMNS = "body_source, published_at, hidden_at, deleted_at, question_id"


def _public(row):
    return f"{row}.published_at IS NOT NULL AND {row}.hidden_at IS NULL AND {row}.deleted_at IS NULL"


SQLITE_TRIGGERS = {
    "questions_search_insert": (
        "AFTER INSERT ON questions", [_ADD.format(id="new.id")]
    ),
    "questions_search_before_update": (
        f"BEFORE UPDATE OF {QUESTION_COLUMNS} ON questions", [_REMOVE.format(id="old.id")]
    ),
    "questions_search_after_update": (
        f"AFTER UPDATE OF {QUESTION_COLUMNS} ON questions", [_ADD.format(id="new.id")]
    ),
    "questions_search_delete": (
        "BEFORE DELETE ON questions", [_REMOVE.format(id="old.id")]
    ),
    "replies_search_before_insert": (
        f"BEFORE INSERT ON replies WHEN {_public('new')}",
        [_REMOVE.format(id="new.question_id")],
    ),
    "replies_search_after_insert": (
        f"AFTER INSERT ON replies WHEN {_public('new')}", [_ADD.format(id="new.question_id")]
    ),
    "replies_search_before_update": (
        f"BEFORE UPDATE OF {REPLY_COLUMNS} ON replies "
        f"WHEN ({_public('old')}) OR ({_public('new')})",
        [
            _REMOVE.format(id="old.question_id"),
            _REMOVE.format(id="new.question_id").replace(
                "WHERE id = new.question_id", "WHERE id = new.question_id AND id <> old.question_id"
            ),
        ],
    ),
    "replies_search_after_update": (
        f"AFTER UPDATE OF {REPLY_COLUMNS} ON replies "
        f"WHEN ({_public('old')}) OR ({_public('new')})",
        [
            _ADD.format(id="old.question_id"),
            _ADD.format(id="new.question_id").replace(
                "WHERE id = new.question_id", "WHERE id = new.question_id AND id <> old.question_id"
            ),
        ],
    ),
    "replies_search_before_delete": (
        f"BEFORE DELETE ON replies WHEN {_public('old')}", [_REMOVE.format(id="old.question_id")]
    ),
    "replies_search_after_delete": (
        f"AFTER DELETE ON replies WHEN {_public('old')}", [_ADD.format(id="old.question_id")]
    ),
}


def _create_sqlite():
    # group_concat follows the order of its subquery: the same text every time the view is read,
    # which FTS5's 'delete' needs (it must be given exactly what was indexed).
    op.execute(
        f"""
        CREATE VIEW questions_search_source AS
        SELECT
            q.id AS id,
            {_clean('q.subject')} AS subject,
            {_clean('q.body_source')} AS body,
            (SELECT {_clean('r.body_source')} FROM replies r
             WHERE r.id = q.accepted_reply_id AND r.question_id = q.id AND {PUBLIC_R}) AS answer,
            (SELECT substr({_clean('group_concat(body, char(10))')}, 1, {REPLIES_MAX_CHARS})
             FROM (SELECT r.body_source AS body FROM replies r
                   WHERE r.question_id = q.id AND r.id IS NOT q.accepted_reply_id AND {PUBLIC_R}
                   ORDER BY r.id)) AS replies
        FROM questions q
        WHERE {PUBLIC_Q}
        """
    )
    op.execute(
        f"""
        CREATE VIRTUAL TABLE questions_search USING fts5(
            {SQLITE_COLUMNS},
            content='questions_search_source',
            content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        )
        """
    )
    for name, (when, statements) in SQLITE_TRIGGERS.items():
        body = "\n".join(statements)
        op.execute(f"CREATE TRIGGER {name} {when} BEGIN\n{body}\nEND")
    # Backfill: index every public question there is.
    op.execute("INSERT INTO questions_search(questions_search) VALUES ('rebuild')")


def _drop_sqlite():
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS questions_search")
    op.execute("DROP VIEW IF EXISTS questions_search_source")
