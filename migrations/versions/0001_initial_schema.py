"""initial schema: people, teams and topics, doc pages, questions, replies, drafts

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 16:16:52.028438

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


# questions.accepted_reply_id must name a reply of the same question, and replies reference
# questions: a cycle. SQLite accepts the forward reference inside CREATE TABLE (and cannot add a
# constraint later); PostgreSQL gets it with ALTER TABLE once both tables exist.
ACCEPTED_REPLY_FK = dict(
    constraint_name='fk_questions_accepted_reply',
    referent_table='replies',
    local_cols=['id', 'accepted_reply_id'],
    remote_cols=['question_id', 'id'],
)


def _is_sqlite():
    return op.get_bind().dialect.name == 'sqlite'


def upgrade():
    accepted_reply_fk_inline = []
    if _is_sqlite():
        accepted_reply_fk_inline.append(sa.ForeignKeyConstraint(
            ['id', 'accepted_reply_id'], ['replies.question_id', 'replies.id'],
            name=ACCEPTED_REPLY_FK['constraint_name'],
        ))
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('slug', name=op.f('uq_teams_slug'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('member', 'moderator', 'admin')", name=op.f('ck_users_role_known')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_users_email_lower')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_topics_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('slug', name=op.f('uq_topics_slug'))
    )
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topics_team_id'), ['team_id'], unique=False)

    op.create_table('pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_pages_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pages')),
    sa.UniqueConstraint('url', name=op.f('uq_pages_url'))
    )
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pages_topic_id'), ['topic_id'], unique=False)

    op.create_table('topic_page_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('path_prefix', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_topic_page_rules_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_page_rules')),
    sa.UniqueConstraint('path_prefix', name=op.f('uq_topic_page_rules_path_prefix'))
    )
    with op.batch_alter_table('topic_page_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_topic_page_rules_topic_id'), ['topic_id'], unique=False)

    op.create_table('questions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('origin_page_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('accepted_reply_id', sa.Integer(), nullable=True),
    sa.Column('reply_count', sa.Integer(), nullable=False),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body_source', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_reason', sa.String(length=500), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submission_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('unanswered', 'answered', 'resolved')", name=op.f('ck_questions_status_known')),
    sa.CheckConstraint('reply_count >= 0', name=op.f('ck_questions_reply_count_not_negative')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_questions_author_id_users')),
    *accepted_reply_fk_inline,
    sa.ForeignKeyConstraint(['origin_page_id'], ['pages.id'], name=op.f('fk_questions_origin_page_id_pages')),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_questions_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions')),
    sa.UniqueConstraint('submission_key', name=op.f('uq_questions_submission_key'))
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questions_accepted_reply_id'), ['accepted_reply_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questions_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_questions_last_activity', ['last_activity_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questions_origin_page_id'), ['origin_page_id'], unique=False)
        batch_op.create_index('ix_questions_status_last_activity', ['status', 'last_activity_at', 'id'], unique=False)
        batch_op.create_index('ix_questions_topic_last_activity', ['topic_id', 'last_activity_at', 'id'], unique=False)

    op.create_table('drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_drafts_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')),
    sa.UniqueConstraint('token', name=op.f('uq_drafts_token'))
    )
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drafts_question_id'), ['question_id'], unique=False)

    op.create_table('question_pages',
    sa.Column('page_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_question_pages_page_id_pages')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_question_pages_question_id_questions')),
    sa.PrimaryKeyConstraint('page_id', 'question_id', name=op.f('pk_question_pages'))
    )
    with op.batch_alter_table('question_pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_pages_question_id'), ['question_id'], unique=False)

    op.create_table('replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body_source', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hidden_reason', sa.String(length=500), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submission_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_replies_author_id_users')),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_replies_question_id_questions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replies')),
    sa.UniqueConstraint('question_id', 'id', name='uq_replies_question_id_id'),
    sa.UniqueConstraint('submission_key', name=op.f('uq_replies_submission_key'))
    )
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replies_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_replies_question_created', ['question_id', 'created_at'], unique=False)

    if not _is_sqlite():
        op.create_foreign_key(source_table='questions', **ACCEPTED_REPLY_FK)


def downgrade():
    if not _is_sqlite():
        op.drop_constraint(ACCEPTED_REPLY_FK['constraint_name'], 'questions', type_='foreignkey')
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_index('ix_replies_question_created')
        batch_op.drop_index(batch_op.f('ix_replies_author_id'))

    op.drop_table('replies')
    with op.batch_alter_table('question_pages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_pages_question_id'))

    op.drop_table('question_pages')
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drafts_question_id'))

    op.drop_table('drafts')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index('ix_questions_topic_last_activity')
        batch_op.drop_index('ix_questions_status_last_activity')
        batch_op.drop_index(batch_op.f('ix_questions_origin_page_id'))
        batch_op.drop_index('ix_questions_last_activity')
        batch_op.drop_index(batch_op.f('ix_questions_author_id'))
        batch_op.drop_index(batch_op.f('ix_questions_accepted_reply_id'))

    op.drop_table('questions')
    with op.batch_alter_table('topic_page_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topic_page_rules_topic_id'))

    op.drop_table('topic_page_rules')
    with op.batch_alter_table('pages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pages_topic_id'))

    op.drop_table('pages')
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_topics_team_id'))

    op.drop_table('topics')
    op.drop_table('users')
    op.drop_table('teams')
