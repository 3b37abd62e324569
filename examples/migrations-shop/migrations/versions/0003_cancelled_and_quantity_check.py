"""order status 'cancelled'; quantity must be positive

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-16 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD = ("pending", "shipped", "delivered")
NEW = (*OLD, "cancelled")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TYPE orderstatus ADD VALUE 'cancelled'")
    elif dialect == "mysql":
        op.alter_column("orders", "status", existing_type=sa.Enum(*OLD, name="orderstatus"),
                        type_=sa.Enum(*NEW, name="orderstatus"), existing_nullable=False)
    # SQLite stores the status as VARCHAR(9): 'cancelled' fits, nothing to alter.
    with op.batch_alter_table("orders") as batch:
        batch.create_check_constraint("ck_orders_quantity_positive", "quantity > 0")


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("ck_orders_quantity_positive", type_="check")
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TYPE orderstatus RENAME TO orderstatus_old")
        op.execute("CREATE TYPE orderstatus AS ENUM ('pending', 'shipped', 'delivered')")
        op.execute("ALTER TABLE orders ALTER COLUMN status TYPE orderstatus USING status::text::orderstatus")
        op.execute("DROP TYPE orderstatus_old")
    elif dialect == "mysql":
        op.alter_column("orders", "status", existing_type=sa.Enum(*NEW, name="orderstatus"),
                        type_=sa.Enum(*OLD, name="orderstatus"), existing_nullable=False)
