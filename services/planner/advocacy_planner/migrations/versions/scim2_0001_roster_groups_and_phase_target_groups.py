"""roster groups, group membership copies and the groups a phase targets

Revision ID: scim2_0001
Revises: order_0001
Create Date: 2026-12-02 17:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = 'scim2_0001'
down_revision: Union[str, Sequence[str], None] = 'order_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('roster_groups',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('display_name_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_roster_groups'))
    )
    with op.batch_alter_table('roster_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_groups_display_name_key'), ['display_name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_roster_groups_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('roster_group_members',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('employee_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('member', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('group_id', 'employee_id', name=op.f('pk_roster_group_members'))
    )
    with op.batch_alter_table('roster_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_group_members_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_roster_group_members_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('phases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_group_ids', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('phases', schema=None) as batch_op:
        batch_op.drop_column('target_group_ids')

    with op.batch_alter_table('roster_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_group_members_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_roster_group_members_employee_id'))

    op.drop_table('roster_group_members')
    with op.batch_alter_table('roster_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_groups_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_roster_groups_display_name_key'))

    op.drop_table('roster_groups')
