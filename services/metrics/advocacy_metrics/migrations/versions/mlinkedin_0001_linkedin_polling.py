"""LinkedIn analytics polling: polls per post, members waiting (429, reconnect), daily call
budgets, company pages

Revision ID: mlinkedin_0001
Revises: metrics_0002
Create Date: 2026-12-02 17:30:00.000000

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "mlinkedin_0001"
down_revision: Union[str, Sequence[str], None] = "metrics_0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _at(name: str, nullable: bool = True, **extra: object) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **extra)


def upgrade() -> None:
    op.create_table(
        "linkedin_polls",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("ambassador_id", sa.Uuid(), nullable=False),
        sa.Column("post_urn", sa.String(length=200), nullable=False),
        _at("published_at", nullable=False),
        sa.Column(
            "state", sa.String(length=20), nullable=False,
            comment="due, stopped, reconnect or withdrawn",
        ),
        _at("next_poll_at"),
        sa.Column("lease_id", sa.Uuid(), nullable=True),
        _at("lease_until"),
        sa.Column("polls", sa.Integer(), nullable=False),
        _at("last_polled_at"),
        _at("last_change_at"),
        sa.Column(
            "last_counts", sa.String(length=120), nullable=True,
            comment="the counts last seen, joined",
        ),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_linkedin_polls")),
    )
    op.create_index("ix_linkedin_polls_due", "linkedin_polls", ["state", "next_poll_at"])
    op.create_index(
        "ix_linkedin_polls_member", "linkedin_polls", ["organisation_id", "ambassador_id"]
    )
    op.create_table(
        "linkedin_members",
        sa.Column("ambassador_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        _at("paused_until", comment="LinkedIn's 429: not before"),
        _at("reconnect_since", comment="401 or no token: until reconnected"),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("ambassador_id", name=op.f("pk_linkedin_members")),
    )
    op.create_table(
        "linkedin_budget",
        sa.Column(
            "scope", sa.String(length=40), nullable=False, comment="app, or an ambassador's id"
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "day", name="pk_linkedin_budget"),
    )
    op.create_table(
        "company_pages",
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("organization_urn", sa.String(length=60), nullable=False),
        sa.Column("sealed_token", sa.Text(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state", sa.String(length=20), nullable=False, comment="active or token_rejected"
        ),
        _at("next_poll_at"),
        sa.Column("lease_id", sa.Uuid(), nullable=True),
        _at("lease_until"),
        _at("last_polled_at"),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        _at("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_company_pages")),
    )


def downgrade() -> None:
    op.drop_table("company_pages")
    op.drop_table("linkedin_budget")
    op.drop_table("linkedin_members")
    op.drop_index("ix_linkedin_polls_member", table_name="linkedin_polls")
    op.drop_index("ix_linkedin_polls_due", table_name="linkedin_polls")
    op.drop_table("linkedin_polls")
