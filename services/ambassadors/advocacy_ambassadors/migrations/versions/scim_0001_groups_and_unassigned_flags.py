"""SCIM Groups (employee_groups, employee_group_members); active and the flags may be unassigned

Revision ID: scim_0001
Revises: order_0001
Create Date: 2026-12-02 15:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = 'scim_0001'
down_revision: Union[str, Sequence[str], None] = 'order_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('employee_groups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('display_name_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('external_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employee_groups')),
    sa.UniqueConstraint('organisation_id', 'display_name_key', name=op.f('uq_employee_groups_organisation_id')),
    )
    with op.batch_alter_table('employee_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employee_groups_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('employee_group_members',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('employee_id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], name=op.f('fk_employee_group_members_employee_id_employees')),
    sa.ForeignKeyConstraint(['group_id'], ['employee_groups.id'], name=op.f('fk_employee_group_members_group_id_employee_groups')),
    sa.PrimaryKeyConstraint('group_id', 'employee_id', name=op.f('pk_employee_group_members')),
    )
    with op.batch_alter_table('employee_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employee_group_members_employee_id'), ['employee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_employee_group_members_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.alter_column('active', existing_type=sa.Boolean(), nullable=True)
        batch_op.alter_column('hard_to_recruit', existing_type=sa.Boolean(), nullable=True)
        batch_op.alter_column('leadership', existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("UPDATE employees SET active = true WHERE active IS NULL")
    op.execute("UPDATE employees SET hard_to_recruit = false WHERE hard_to_recruit IS NULL")
    op.execute("UPDATE employees SET leadership = false WHERE leadership IS NULL")
    with op.batch_alter_table('employees', schema=None) as batch_op:
        batch_op.alter_column('leadership', existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column('hard_to_recruit', existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column('active', existing_type=sa.Boolean(), nullable=False)
    with op.batch_alter_table('employee_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employee_group_members_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_employee_group_members_employee_id'))
    op.drop_table('employee_group_members')
    with op.batch_alter_table('employee_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employee_groups_organisation_id'))
    op.drop_table('employee_groups')
