"""webhook erasures: tombstones that keep a late event about an erased person from the webhooks

Revision ID: backbone_0001
Revises: abuse_0001
Create Date: 2026-12-02 14:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = 'backbone_0001'
down_revision: Union[str, Sequence[str], None] = 'abuse_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('webhook_erasures',
    sa.Column('organisation_id', sa.Uuid(), nullable=False),
    sa.Column('entity_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organisation_id', 'entity_hash', name=op.f('pk_webhook_erasures'))
    )
    with op.batch_alter_table('webhook_erasures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_erasures_erased_at'), ['erased_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('webhook_erasures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_erasures_erased_at'))

    op.drop_table('webhook_erasures')
