"""organisation-scoped accounts and login throttles

Every account now belongs to one organisation (platform admins' to none). A user who was a member
of several organisations is split: the first membership keeps the account, each other one gets an
account of its own (same address, name and password hash, so nobody is locked out). A platform
admin keeps an account of no organisation, and their memberships move to new accounts. Every
session ends: they were opened under the old model.

Revision ID: identity_0001
Revises: 0004
Create Date: 2026-12-02 11:40:00.000000

"""
from typing import Sequence, Union
from uuid import uuid4

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = 'identity_0001'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_PLATFORM = sa.text('organisation_id IS NULL')


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('login_throttles',
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_last_failure_at'), ['last_failure_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Uuid(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_users_email'), type_='unique')
        batch_op.create_index(batch_op.f('ix_users_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_organisation_id_organisations'), 'organisations', ['organisation_id'], ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_users_organisation_id'), ['organisation_id', 'email'])
    _split_accounts()
    op.create_index('uq_users_platform_email', 'users', ['email'], unique=True, sqlite_where=_PLATFORM, postgresql_where=_PLATFORM)


def _split_accounts() -> None:
    bind = op.get_bind()
    users = sa.table(
        'users',
        sa.column('id', sa.Uuid()),
        sa.column('organisation_id', sa.Uuid()),
        sa.column('email', sa.String()),
        sa.column('display_name', sa.String()),
        sa.column('password_hash', sa.String()),
        sa.column('is_platform_admin', sa.Boolean()),
        sa.column('disabled', sa.Boolean()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    memberships = sa.table(
        'memberships',
        sa.column('organisation_id', sa.Uuid()),
        sa.column('user_id', sa.Uuid()),
        sa.column('role', sa.String()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    op.execute(sa.text('DELETE FROM user_sessions'))
    for user in bind.execute(sa.select(users)).mappings().all():
        rows = bind.execute(
            sa.select(memberships.c.organisation_id, memberships.c.created_at)
            .where(memberships.c.user_id == user['id'])
            .order_by(memberships.c.created_at)
        ).all()
        keep = [] if user['is_platform_admin'] else rows[:1]
        for organisation_id, _ in keep:
            bind.execute(
                users.update().where(users.c.id == user['id']).values(organisation_id=organisation_id)
            )
        for organisation_id, _ in rows[len(keep):]:
            account_id = uuid4()
            bind.execute(
                users.insert().values(
                    id=account_id,
                    organisation_id=organisation_id,
                    email=user['email'],
                    display_name=user['display_name'],
                    password_hash=user['password_hash'],
                    is_platform_admin=False,
                    disabled=user['disabled'],
                    created_at=user['created_at'],
                )
            )
            bind.execute(
                memberships.update()
                .where(
                    memberships.c.user_id == user['id'],
                    memberships.c.organisation_id == organisation_id,
                )
                .values(user_id=account_id)
            )


def downgrade() -> None:
    """Downgrade schema. It fails while two accounts share an address: merge them first."""
    op.drop_index('uq_users_platform_email', table_name='users', sqlite_where=_PLATFORM, postgresql_where=_PLATFORM)
    op.execute(sa.text('DELETE FROM user_sessions'))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_organisation_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_users_organisation_id_organisations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_organisation_id'))
        batch_op.drop_column('organisation_id')
        batch_op.create_unique_constraint(batch_op.f('uq_users_email'), ['email'])

    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_last_failure_at'))

    op.drop_table('login_throttles')
