"""announce page changes to the app's page caches (PostgreSQL NOTIFY)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 01:00:00.000000

Each worker keeps the public renderings of pages in memory (community/questions/page_cache.py)
and listens on ``community_pages``. When a page's content version changes (the triggers of 0020
raise it with every write that changes what the page shows) or the page is deleted, its id is
announced; when a page is created or its URL changes, ``new`` is, since readers of a URL that
had no page were shown an empty one. A TRUNCATE of any table a page shows fires no row
trigger (so raises no content version): it empties ``page_snapshots`` and announces ``all``. PostgreSQL sends notifications when the transaction commits,
in commit order, and folds repeats within one transaction.

SQLite needs nothing: the cache asks ``PRAGMA data_version`` instead.
"""
from alembic import op


# The tables whose rows a page shows (see 0020): emptied at once, every page changed.
TRUNCATED = ("pages", "questions", "replies", "question_pages", "users", "topics", "teams")

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(
        """
        CREATE FUNCTION pages_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            PERFORM pg_notify('community_pages', 'new');
          ELSIF TG_OP = 'DELETE' THEN
            PERFORM pg_notify('community_pages', OLD.id::text);
          ELSE
            IF NEW.content_version IS DISTINCT FROM OLD.content_version THEN
              PERFORM pg_notify('community_pages', NEW.id::text);
            END IF;
            IF NEW.url IS DISTINCT FROM OLD.url THEN
              PERFORM pg_notify('community_pages', OLD.id::text);
              PERFORM pg_notify('community_pages', 'new');
            END IF;
          END IF;
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER pages_announce_change AFTER INSERT OR DELETE"
        " OR UPDATE OF content_version, url ON pages"
        " FOR EACH ROW EXECUTE FUNCTION pages_announce_change()"
    )
    op.execute(
        """
        CREATE FUNCTION pages_announce_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM page_snapshots;
          PERFORM pg_notify('community_pages', 'all');
          RETURN NULL;
        END $$
        """
    )
    for table in TRUNCATED:
        op.execute(
            f"CREATE TRIGGER {table}_announce_truncate AFTER TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION pages_announce_truncate()"
        )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TRUNCATED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_announce_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS pages_announce_truncate()")
    op.execute("DROP TRIGGER IF EXISTS pages_announce_change ON pages")
    op.execute("DROP FUNCTION IF EXISTS pages_announce_change()")
