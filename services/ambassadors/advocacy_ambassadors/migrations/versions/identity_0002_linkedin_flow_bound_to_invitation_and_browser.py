"""a LinkedIn flow started by an invitation is bound to it and to the browser

Revision ID: identity_0002
Revises: outbox_0001
Create Date: 2026-12-02 11:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = 'identity_0002'
down_revision: Union[str, Sequence[str], None] = 'outbox_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema. States started before this revision are unbound: they end (10 minutes)."""
    op.execute(sa.text('DELETE FROM linkedin_authorizations'))
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linkedin_connected_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('linkedin_authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invitation_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('browser_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_linkedin_authorizations_invitation_id'), ['invitation_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('linkedin_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_linkedin_authorizations_invitation_id'))
        batch_op.drop_column('browser_hash')
        batch_op.drop_column('invitation_id')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('linkedin_connected_at')
