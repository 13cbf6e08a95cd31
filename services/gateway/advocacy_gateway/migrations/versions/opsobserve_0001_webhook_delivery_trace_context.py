"""webhook delivery trace context

Revision ID: opsobserve_0001
Revises: content2_0001
Create Date: 2026-12-02 17:25:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'opsobserve_0001'
down_revision: Union[str, Sequence[str], None] = 'content2_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """The W3C trace context of the intake that queued a delivery (none while not tracing)."""
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('traceparent', sa.String(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('traceparent')
