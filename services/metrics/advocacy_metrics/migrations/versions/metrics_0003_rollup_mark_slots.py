"""rollup marks carry the marking connection's slot: concurrent writers of one day stop waiting
on each other's mark

Revision ID: metrics_0003
Revises: mbi_0001
Create Date: 2026-12-04 06:00:00.000000

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "metrics_0003"
down_revision: Union[str, Sequence[str], None] = "mbi_0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("rollup_dirty") as batch:
        batch.add_column(
            sa.Column(
                "slot",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="the marking connection's backend pid modulo MARK_SLOTS (0 on SQLite)",
            )
        )
        batch.drop_constraint("pk_rollup_dirty", type_="primary")
        batch.create_primary_key("pk_rollup_dirty", ["organisation_id", "day", "slot"])


def downgrade() -> None:
    # Every marked day keeps a mark: slot 0's, before the others go.
    op.execute(
        sa.text(
            "INSERT INTO rollup_dirty (organisation_id, day, slot) "
            "SELECT DISTINCT organisation_id, day, 0 FROM rollup_dirty WHERE slot <> 0 "
            "ON CONFLICT DO NOTHING"
        )
    )
    op.execute(sa.text("DELETE FROM rollup_dirty WHERE slot <> 0"))
    with op.batch_alter_table("rollup_dirty") as batch:
        batch.drop_constraint("pk_rollup_dirty", type_="primary")
        batch.create_primary_key("pk_rollup_dirty", ["organisation_id", "day"])
        batch.drop_column("slot")
