"""indexes for the hero's metrics: questions by publication, and the open ones

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-26 21:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

OPEN = (
    "status <> 'resolved' AND published_at IS NOT NULL AND hidden_at IS NULL"
    " AND deleted_at IS NULL"
)


def upgrade():
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index('ix_questions_published_at', ['published_at'], unique=False)
        batch_op.create_index('ix_questions_open', ['topic_id', 'id'], unique=False, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index('ix_questions_open', postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_index('ix_questions_published_at')
