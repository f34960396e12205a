"""pre-moderation: posts held for review, runtime settings

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 19:12:03.084485

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('runtime_settings',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_runtime_settings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_runtime_settings'))
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_for_review', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_for_review', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.drop_column('held_for_review')

    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_column('held_for_review')

    op.drop_table('runtime_settings')
