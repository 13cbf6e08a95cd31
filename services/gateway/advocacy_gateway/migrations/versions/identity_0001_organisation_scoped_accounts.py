"""organisation-scoped accounts and login throttles

Every account now belongs to one organisation (platform admins' to none). A user who was a member
of several organisations is split: the first membership keeps the account, each other one gets an
account of its own (same address, name and password hash, so nobody is locked out). A platform
admin keeps an account of no organisation, and their memberships move to new accounts. Every
session ends: they were opened under the old model.

Revision ID: identity_0001
Revises: outbox_0001
Create Date: 2026-12-02 11:40:00.000000

"""
from typing import Sequence, Union
from uuid import uuid4

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = 'identity_0001'
down_revision: Union[str, Sequence[str], None] = 'outbox_0001'
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

    # SQLite rebuilds `users` to change its constraints, and may not drop a table that rows
    # still reference: sessions end anyway, memberships are set aside and come back split.
    op.execute(sa.text('DELETE FROM user_sessions'))
    memberships = _memberships()
    held = op.get_bind().execute(sa.select(memberships)).mappings().all()
    op.execute(memberships.delete())
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Uuid(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_users_email'), type_='unique')
        batch_op.create_index(batch_op.f('ix_users_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_organisation_id_organisations'), 'organisations', ['organisation_id'], ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_users_organisation_id'), ['organisation_id', 'email'])
    _split_accounts(held)
    op.create_index('uq_users_platform_email', 'users', ['email'], unique=True, sqlite_where=_PLATFORM, postgresql_where=_PLATFORM)


def _memberships() -> sa.TableClause:
    return sa.table(
        'memberships',
        sa.column('organisation_id', sa.Uuid()),
        sa.column('user_id', sa.Uuid()),
        sa.column('role', sa.String()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )


def _split_accounts(held: Sequence[sa.RowMapping]) -> None:
    """Give back every membership, each on an account of its own organisation."""
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
    accounts = {row['id']: row for row in bind.execute(sa.select(users)).mappings().all()}
    placed: set[object] = set()
    for membership in sorted(held, key=lambda m: (m['created_at'], str(m['organisation_id']))):
        user = accounts[membership['user_id']]
        account_id = user['id']
        if user['is_platform_admin'] or account_id in placed:
            account_id = uuid4()
            bind.execute(
                users.insert().values(
                    id=account_id,
                    organisation_id=membership['organisation_id'],
                    email=user['email'],
                    display_name=user['display_name'],
                    password_hash=user['password_hash'],
                    is_platform_admin=False,
                    disabled=user['disabled'],
                    created_at=user['created_at'],
                )
            )
        else:
            placed.add(account_id)
            bind.execute(
                users.update()
                .where(users.c.id == account_id)
                .values(organisation_id=membership['organisation_id'])
            )
        bind.execute(_memberships().insert().values(**{**membership, 'user_id': account_id}))


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
