"""linkedin connections (tokens sealed) and started authorizations (states hashed)

Self-contained: only the LinkedIn tables. `down_revision` is re-chained when another branch's
0003 is merged before it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:22:40.670325

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('linkedin_authorizations',
    sa.Column('state_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('ambassador_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ambassador_id'], ['ambassadors.id'], name=op.f('fk_linkedin_authorizations_ambassador_id_ambassadors')),
    sa.PrimaryKeyConstraint('state_hash', name=op.f('pk_linkedin_authorizations'))
    )
    with op.batch_alter_table('linkedin_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linkedin_authorizations_ambassador_id'), ['ambassador_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_linkedin_authorizations_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('linkedin_connections',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('ambassador_id', sa.Uuid(), nullable=False),
    sa.Column('member_urn', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('access_token_sealed', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expiring_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['ambassador_id'], ['ambassadors.id'], name=op.f('fk_linkedin_connections_ambassador_id_ambassadors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linkedin_connections')),
    sa.UniqueConstraint('ambassador_id', name=op.f('uq_linkedin_connections_ambassador_id'))
    )
    with op.batch_alter_table('linkedin_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_linkedin_connections_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_linkedin_connections_organisation_id'), ['organisation_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('linkedin_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linkedin_connections_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_linkedin_connections_expires_at'))

    op.drop_table('linkedin_connections')
    with op.batch_alter_table('linkedin_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linkedin_authorizations_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_linkedin_authorizations_ambassador_id'))

    op.drop_table('linkedin_authorizations')
