"""hero rotations: weekly order per team, overrides (swaps, imported shifts)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 20:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hero_rotations',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_hero_rotations_team_id_teams')),
    sa.PrimaryKeyConstraint('team_id', name=op.f('pk_hero_rotations'))
    )
    op.create_table('hero_rotation_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_hero_rotation_members_team_id_teams')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_hero_rotation_members_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hero_rotation_members')),
    sa.UniqueConstraint('team_id', 'position', name=op.f('uq_hero_rotation_members_team_id_position')),
    sa.UniqueConstraint('team_id', 'user_id', name=op.f('uq_hero_rotation_members_team_id_user_id'))
    )
    with op.batch_alter_table('hero_rotation_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hero_rotation_members_user_id'), ['user_id'], unique=False)

    op.create_table('hero_duty_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('swap_key', sa.String(length=32), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_hero_duty_overrides_dates_in_order')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_hero_duty_overrides_created_by_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_hero_duty_overrides_team_id_teams')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_hero_duty_overrides_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hero_duty_overrides'))
    )
    with op.batch_alter_table('hero_duty_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_hero_duty_overrides_team_dates', ['team_id', 'ends_on', 'starts_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_hero_duty_overrides_swap_key'), ['swap_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_hero_duty_overrides_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('hero_duty_overrides')
    op.drop_table('hero_rotation_members')
    op.drop_table('hero_rotations')
