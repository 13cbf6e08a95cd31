"""posts remember the latest observation announced as PostEngagementMeasured

Revision ID: metrics_0002
Revises: metrics_0001
Create Date: 2026-12-02 15:40:00.000000

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "metrics_0002"
down_revision: Union[str, Sequence[str], None] = "metrics_0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("engagement_announced_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("engagement_announced_at")
