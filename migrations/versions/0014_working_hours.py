"""teams' working hours for the response clock

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 19:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
# 0013 is being added on another branch: re-point this at it when both are merged.
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))
        batch_op.add_column(sa.Column('working_days', sa.String(length=7), server_default='12345', nullable=False))
        batch_op.add_column(sa.Column('work_starts_at', sa.Time(), server_default='09:00:00', nullable=False))
        batch_op.add_column(sa.Column('work_ends_at', sa.Time(), server_default='17:00:00', nullable=False))


def downgrade():
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('work_ends_at')
        batch_op.drop_column('work_starts_at')
        batch_op.drop_column('working_days')
        batch_op.drop_column('timezone')
