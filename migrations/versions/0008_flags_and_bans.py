"""flags and bans: members report posts; a ban hides its author's posts (and lifting it restores them)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 19:01:14.003891

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('post_type', sa.String(length=10), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_flags_reporter_id_users')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_flags_resolved_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
    sa.UniqueConstraint('reporter_id', 'post_type', 'post_id', name=op.f('uq_flags_reporter_id_post_type_post_id'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index('ix_flags_open', ['resolved_at', 'created_at'], unique=False)
        batch_op.create_index('ix_flags_post', ['post_type', 'post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_reporter_id'), ['reporter_id'], unique=False)

    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_by_ban', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_by_ban', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_column('hidden_by_ban')

    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_column('hidden_by_ban')

    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flags_reporter_id'))
        batch_op.drop_index('ix_flags_post')
        batch_op.drop_index('ix_flags_open')

    op.drop_table('flags')
