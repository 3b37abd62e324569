"""customers.tier with a server default

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-09 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("tier", sa.String(length=20), nullable=False, server_default="standard"))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("tier")
