"""zendesk: the mirror row per question, team groups, topic priorities, webhook deliveries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:23:56.974776

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('zendesk_webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zendesk_webhook_deliveries')),
    sa.UniqueConstraint('digest', name=op.f('uq_zendesk_webhook_deliveries_digest'))
    )
    with op.batch_alter_table('zendesk_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zendesk_webhook_deliveries_signed_at'), ['signed_at'], unique=False)

    op.create_table('zendesk_team_groups',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_zendesk_team_groups_team_id_teams')),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_zendesk_team_groups'))
    )
    op.create_table('zendesk_topic_priorities',
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_zendesk_topic_priorities_priority_known')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_zendesk_topic_priorities_topic_id_topics')),
    sa.PrimaryKeyConstraint('topic_id', name=op.f('pk_zendesk_topic_priorities'))
    )
    op.create_table('zendesk_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=True),
    sa.Column('ticket_url', sa.String(length=500), nullable=True),
    sa.Column('followup_source_id', sa.BigInteger(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('applied_sequence', sa.Integer(), nullable=False),
    sa.Column('desired_status', sa.String(length=20), nullable=False),
    sa.Column('desired_tag', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('priority', sa.String(length=20), nullable=True),
    sa.Column('assignee_id', sa.BigInteger(), nullable=True),
    sa.Column('assignee_name', sa.String(length=200), nullable=True),
    sa.Column('group_id', sa.BigInteger(), nullable=True),
    sa.Column('remote_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_zendesk_tickets_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zendesk_tickets')),
    sa.UniqueConstraint('question_id', name=op.f('uq_zendesk_tickets_question_id'))
    )
    with op.batch_alter_table('zendesk_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zendesk_tickets_ticket_id'), ['ticket_id'], unique=False)



def downgrade():
    with op.batch_alter_table('zendesk_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_zendesk_tickets_ticket_id'))

    op.drop_table('zendesk_tickets')
    op.drop_table('zendesk_topic_priorities')
    op.drop_table('zendesk_team_groups')
    with op.batch_alter_table('zendesk_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_zendesk_webhook_deliveries_signed_at'))

    op.drop_table('zendesk_webhook_deliveries')
