"""claims: who took a question on

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 19:07:22.167124

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_questions_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_questions_assignee_id_users'), 'users', ['assignee_id'], ['id'])



def downgrade():
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_questions_assignee_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_questions_assignee_id'))
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('assignee_id')

