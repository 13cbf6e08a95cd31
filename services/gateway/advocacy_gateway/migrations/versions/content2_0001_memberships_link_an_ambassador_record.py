"""memberships link an account to its ambassador record (self-service)

Revision ID: content2_0001
Revises: backbone_0001
Create Date: 2026-12-02 17:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'content2_0001'
down_revision: Union[str, Sequence[str], None] = 'backbone_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ambassador_id', sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint(
            'uq_memberships_ambassador', ['organisation_id', 'ambassador_id']
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_constraint('uq_memberships_ambassador', type_='unique')
        batch_op.drop_column('ambassador_id')
