"""hero reminders: one per question and target; questions indexed by publication

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 20:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hero_reminders',
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('threshold_minutes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_hero_reminders_question_id_questions')),
    sa.PrimaryKeyConstraint('question_id', 'threshold_minutes', name=op.f('pk_hero_reminders'))
    )


def downgrade():
    op.drop_table('hero_reminders')
