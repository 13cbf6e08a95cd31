"""the BI export: changed_at on the exported tables (its cursor), pseudonym keys

Revision ID: mbi_0001
Revises: mlinkedin_0001
Create Date: 2026-12-02 17:30:00.000000

"""

from datetime import UTC, datetime
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "mbi_0001"
down_revision: Union[str, Sequence[str], None] = "mlinkedin_0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("posts", "post_latest", "post_daily", "daily_rollups")


def upgrade() -> None:
    now = datetime.now(UTC)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET changed_at = :now").bindparams(now=now))
    op.create_index("ix_post_daily_org_changed", "post_daily", ["organisation_id", "changed_at"])
    op.create_index(
        "ix_daily_rollups_org_changed", "daily_rollups", ["organisation_id", "changed_at"]
    )
    op.create_table(
        "bi_keys",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "secret", sa.String(length=64), nullable=False, comment="HMAC key of the BI pseudonyms"
        ),
        sa.PrimaryKeyConstraint("organisation_id"),
    )


def downgrade() -> None:
    op.drop_table("bi_keys")
    op.drop_index("ix_daily_rollups_org_changed", table_name="daily_rollups")
    op.drop_index("ix_post_daily_org_changed", table_name="post_daily")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("changed_at")
