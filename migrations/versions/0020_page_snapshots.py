"""page content versions kept by triggers, and stored renderings of a page's questions

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-26 23:00:00.000000

Every write that can change what a doc page shows (a question or reply written, edited, hidden,
accepted, moved; an author renamed, banned or deleted; a topic or team renamed; the page's own
title) adds one to ``pages.content_version``, in the same transaction, through triggers: no code
path can forget, bulk UPDATEs included. ``page_snapshots`` keeps the public rendering of a page
(the API's JSON, the anonymous embed) with the version it was built from; a reader compares the
two in one query.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

# The pages that show a question (by id) and the pages that show anything a user wrote.
_PAGES_OF_QUESTION = "SELECT page_id FROM question_pages WHERE question_id = {id}"
_PAGES_OF_AUTHOR = (
    "SELECT qp.page_id FROM question_pages qp JOIN questions q ON q.id = qp.question_id"
    " WHERE q.author_id = {id}"
    " UNION SELECT qp.page_id FROM question_pages qp JOIN replies r"
    " ON r.question_id = qp.question_id WHERE r.author_id = {id}"
)
_PAGES_OF_ORIGIN = (
    "SELECT qp.page_id FROM question_pages qp JOIN questions q ON q.id = qp.question_id"
    " WHERE q.origin_page_id = {id}"
)
_PAGES_OF_TOPIC = (
    "SELECT qp.page_id FROM question_pages qp JOIN questions q ON q.id = qp.question_id"
    " WHERE q.topic_id = {id} UNION SELECT id FROM pages WHERE topic_id = {id}"
)
_PAGES_OF_TEAM = (
    "SELECT qp.page_id FROM question_pages qp JOIN questions q ON q.id = qp.question_id"
    " JOIN users u ON u.id = q.author_id WHERE u.team_id = {id}"
    " UNION SELECT qp.page_id FROM question_pages qp JOIN replies r"
    " ON r.question_id = qp.question_id JOIN users u ON u.id = r.author_id WHERE u.team_id = {id}"
)


def _bump(pages: str) -> str:
    return f"UPDATE pages SET content_version = content_version + 1 WHERE id IN ({pages})"


# (trigger name, table, event, condition, pages to bump); NEW and OLD as the event allows.
TRIGGERS = [
    ("questions_page_version", "questions", "UPDATE", None, [_PAGES_OF_QUESTION.format(id="NEW.id")]),
    ("replies_insert_page_version", "replies", "INSERT", None, [_PAGES_OF_QUESTION.format(id="NEW.question_id")]),
    ("replies_update_page_version", "replies", "UPDATE", None, [
        _PAGES_OF_QUESTION.format(id="NEW.question_id"), _PAGES_OF_QUESTION.format(id="OLD.question_id"),
    ]),
    ("replies_delete_page_version", "replies", "DELETE", None, [_PAGES_OF_QUESTION.format(id="OLD.question_id")]),
    ("question_pages_insert_page_version", "question_pages", "INSERT", None, ["SELECT NEW.page_id"]),
    ("question_pages_delete_page_version", "question_pages", "DELETE", None, ["SELECT OLD.page_id"]),
    ("users_page_version", "users", "UPDATE OF name, deleted_at, team_id, role",
     "OLD.name IS DISTINCT FROM NEW.name OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at"
     " OR OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.role IS DISTINCT FROM NEW.role",
     [_PAGES_OF_AUTHOR.format(id="NEW.id")]),
    ("topics_page_version", "topics", "UPDATE OF name, slug",
     "OLD.name IS DISTINCT FROM NEW.name OR OLD.slug IS DISTINCT FROM NEW.slug",
     [_PAGES_OF_TOPIC.format(id="NEW.id")]),
    ("teams_page_version", "teams", "UPDATE OF name", "OLD.name IS DISTINCT FROM NEW.name",
     [_PAGES_OF_TEAM.format(id="NEW.id")]),
    # The page itself, and every page showing a question asked on it (the API names each
    # question's origin page with its title).
    ("pages_page_version", "pages", "UPDATE OF url, title, topic_id",
     "OLD.url IS DISTINCT FROM NEW.url OR OLD.title IS DISTINCT FROM NEW.title"
     " OR OLD.topic_id IS DISTINCT FROM NEW.topic_id",
     ["SELECT NEW.id", _PAGES_OF_ORIGIN.format(id="NEW.id")]),
]


def upgrade():
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_version', sa.Integer(), server_default=sa.text('1'), nullable=False))
    op.create_table('page_snapshots',
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('build', sa.String(length=16), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_page_snapshots_page_id_pages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('page_id', 'kind', name=op.f('pk_page_snapshots'))
    )
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for name, table, event, condition, pages in TRIGGERS:
        if postgresql:
            _create_postgresql(name, table, event, condition, pages)
        else:
            _create_sqlite(name, table, event, condition, pages)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for name, table, _event, _condition, _pages in reversed(TRIGGERS):
        if postgresql:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('page_snapshots')
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_column('content_version')


def _create_postgresql(name, table, event, condition, pages):
    statements = "\n".join(f"  {_bump(found)};" for found in pages)
    op.execute(
        f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
        {statements}
          RETURN NULL;
        END $$
        """
    )
    when = f"WHEN ({condition})" if condition else ""
    op.execute(
        f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when}"
        f" EXECUTE FUNCTION {name}()"
    )


def _create_sqlite(name, table, event, condition, pages):
    statements = "\n".join(f"  {_bump(found)};" for found in pages)
    # SQLite has no IS DISTINCT FROM; its IS NOT compares NULLs the same way.
    when = f"WHEN {condition.replace('IS DISTINCT FROM', 'IS NOT')}" if condition else ""
    op.execute(
        f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when}\n"
        f"BEGIN\n{statements}\nEND"
    )
