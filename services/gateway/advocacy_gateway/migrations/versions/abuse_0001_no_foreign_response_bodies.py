"""no foreign response bodies: webhook deliveries keep the answer's status and time only

Revision ID: abuse_0001
Revises: order_0001
Create Date: 2026-12-02 11:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate renders sqlmodel column types)


# revision identifiers, used by Alembic.
revision: str = 'abuse_0001'
down_revision: Union[str, Sequence[str], None] = 'order_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('last_response_excerpt')


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'last_response_excerpt',
                sqlmodel.sql.sqltypes.AutoString(length=256),
                nullable=True,
            )
        )
