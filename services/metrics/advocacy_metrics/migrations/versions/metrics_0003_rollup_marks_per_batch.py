"""rollup marks are rows of the storing statement that made them (no lock shared by batches)

Revision ID: metrics_0003
Revises: mbi_0001
Create Date: 2026-12-03 19:20:00.000000

"""

import uuid
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "metrics_0003"
down_revision: Union[str, Sequence[str], None] = "mbi_0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COMMENT = "the storing statement that marked the day: each one adds rows of its own"


def _marked_days() -> list[tuple[object, object]]:
    rows = op.get_bind().execute(sa.text("SELECT DISTINCT organisation_id, day FROM rollup_dirty"))
    return [(row[0], row[1]) for row in rows]


def upgrade() -> None:
    """The marks waiting for the next rollup pass are kept, each as one batch of its own."""
    marked = _marked_days()
    op.drop_table("rollup_dirty")
    table = op.create_table(
        "rollup_dirty",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False, comment=_COMMENT),
        sa.PrimaryKeyConstraint("organisation_id", "day", "batch_id", name="pk_rollup_dirty"),
    )
    assert table is not None
    batch_id = uuid.uuid4()
    if marked:
        op.bulk_insert(
            table, [{"organisation_id": o, "day": d, "batch_id": batch_id} for o, d in marked]
        )


def downgrade() -> None:
    marked = _marked_days()
    op.drop_table("rollup_dirty")
    table = op.create_table(
        "rollup_dirty",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "day", name="pk_rollup_dirty"),
    )
    assert table is not None
    if marked:
        op.bulk_insert(table, [{"organisation_id": o, "day": d} for o, d in marked])
