"""response times kept on questions for the queues

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 19:30:34.837820

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


STAFF = "('team', 'moderator', 'admin')"
# The queues' partial indexes (as in questions.models): each holds only what its queue shows.
QUEUE_INDEXES = {
    "ix_questions_unresolved": "status = 'answered' AND accepted_reply_id IS NULL AND published_at IS NOT NULL AND hidden_at IS NULL AND deleted_at IS NULL",
    "ix_questions_pending": "published_at IS NULL AND hidden_at IS NULL AND deleted_at IS NULL",
    "ix_questions_removed": "hidden_at IS NOT NULL OR deleted_at IS NOT NULL",
}
PUBLIC = "r.published_at IS NOT NULL AND r.hidden_at IS NULL AND r.deleted_at IS NULL"


def upgrade():
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True))

    # Fill both from the replies already there, as questions.services keeps them from now on.
    op.execute(
        f"""
        UPDATE questions SET first_response_at = (
            SELECT min(r.published_at) FROM replies r JOIN users u ON u.id = r.author_id
            WHERE r.question_id = questions.id AND {PUBLIC} AND u.role IN {STAFF}
        )
        """
    )
    op.execute(
        f"""
        UPDATE questions SET waiting_since = (
            SELECT min(r.published_at) FROM replies r JOIN users u ON u.id = r.author_id
            WHERE r.question_id = questions.id AND {PUBLIC} AND u.role NOT IN {STAFF}
              AND r.published_at > (
                SELECT max(s.published_at) FROM replies s JOIN users su ON su.id = s.author_id
                WHERE s.question_id = questions.id AND s.published_at IS NOT NULL
                  AND s.hidden_at IS NULL AND s.deleted_at IS NULL AND su.role IN {STAFF}
              )
        )
        """
    )

    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index('ix_questions_needs_first_response', ['created_at', 'id'], unique=False, postgresql_where=sa.text("first_response_at IS NULL AND status <> 'resolved' AND published_at IS NOT NULL AND hidden_at IS NULL AND deleted_at IS NULL"), sqlite_where=sa.text("first_response_at IS NULL AND status <> 'resolved' AND published_at IS NOT NULL AND hidden_at IS NULL AND deleted_at IS NULL"))
        batch_op.create_index('ix_questions_waiting', ['created_at', 'id'], unique=False, postgresql_where=sa.text('waiting_since IS NOT NULL'), sqlite_where=sa.text('waiting_since IS NOT NULL'))
        for name, where in QUEUE_INDEXES.items():
            batch_op.create_index(name, ['created_at', 'id'], unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where))

    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.create_index('ix_replies_held_for_review', ['created_at', 'id'], unique=False, postgresql_where=sa.text('held_for_review'), sqlite_where=sa.text('held_for_review'))


def downgrade():
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_index('ix_replies_held_for_review')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        for name in QUEUE_INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_index('ix_questions_waiting', postgresql_where=sa.text('waiting_since IS NOT NULL'), sqlite_where=sa.text('waiting_since IS NOT NULL'))
        batch_op.drop_index('ix_questions_needs_first_response', postgresql_where=sa.text("first_response_at IS NULL AND status <> 'resolved' AND published_at IS NOT NULL AND hidden_at IS NULL AND deleted_at IS NULL"), sqlite_where=sa.text("first_response_at IS NULL AND status <> 'resolved' AND published_at IS NOT NULL AND hidden_at IS NULL AND deleted_at IS NULL"))
        batch_op.drop_column('waiting_since')
        batch_op.drop_column('first_response_at')

