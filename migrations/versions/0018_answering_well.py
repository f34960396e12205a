"""hero answering tools: saved replies, feature-request links, follow-ups

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 20:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hero_saved_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(team_id IS NULL) <> (owner_id IS NULL)', name=op.f('ck_hero_saved_replies_team_or_personal')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_hero_saved_replies_owner_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_hero_saved_replies_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hero_saved_replies'))
    )
    with op.batch_alter_table('hero_saved_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hero_saved_replies_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hero_saved_replies_team_id'), ['team_id'], unique=False)

    op.create_table('hero_feature_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('issue_url', sa.String(length=300), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_hero_feature_requests_created_by_id_users')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_hero_feature_requests_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hero_feature_requests')),
    sa.UniqueConstraint('question_id', 'issue_url', name=op.f('uq_hero_feature_requests_question_id_issue_url'))
    )
    with op.batch_alter_table('hero_feature_requests', schema=None) as batch_op:
        batch_op.create_index('ix_hero_feature_requests_issue', ['issue_url', 'question_id'], unique=False)

    op.create_table('hero_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_hero_follow_ups_question_id_questions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_hero_follow_ups_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hero_follow_ups')),
    sa.UniqueConstraint('question_id', 'user_id', name=op.f('uq_hero_follow_ups_question_id_user_id'))
    )
    with op.batch_alter_table('hero_follow_ups', schema=None) as batch_op:
        batch_op.create_index('ix_hero_follow_ups_due', ['done_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hero_follow_ups_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('hero_follow_ups')
    op.drop_table('hero_feature_requests')
    op.drop_table('hero_saved_replies')
