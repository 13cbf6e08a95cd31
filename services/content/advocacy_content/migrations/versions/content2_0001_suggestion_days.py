"""suggestion days: the organisation's day lock (daily cap) and the daily run's lease

Revision ID: content2_0001
Revises: content_0001
Create Date: 2026-12-02 17:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'content2_0001'
down_revision: Union[str, Sequence[str], None] = 'content_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'suggestion_days',
        sa.Column('organisation_id', sa.Uuid(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('prepared_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('organisation_id', 'day'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('suggestion_days')
