"""embed sign-ins: the popup hands a sign-in to the embed

Revision ID: 0007
Revises: 0006_api_tokens
Create Date: 2026-11-26 18:46:23.853897

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('embed_sign_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_embed_sign_ins_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_embed_sign_ins')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_embed_sign_ins_code_hash')),
    sa.UniqueConstraint('request_hash', name=op.f('uq_embed_sign_ins_request_hash'))
    )
    with op.batch_alter_table('embed_sign_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_embed_sign_ins_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('embed_sign_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_embed_sign_ins_user_id'))

    op.drop_table('embed_sign_ins')
