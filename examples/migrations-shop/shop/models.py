"""The shop's tables as the application sees them; ``migrations/`` builds the same schema."""

import enum
from typing import Optional

from sqlalchemy import CheckConstraint, Column, Enum
from sqlmodel import Field, SQLModel


class OrderStatus(str, enum.Enum):
    pending = "pending"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"  # revision 0003


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(max_length=120, unique=True)
    name: str = Field(max_length=80)
    tier: str = Field(default="standard", max_length=20,  # revision 0002
                      sa_column_kwargs={"server_default": "standard"})


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_orders_quantity_positive"),)  # revision 0003

    id: Optional[int] = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", ondelete="CASCADE", index=True)
    status: OrderStatus = Field(sa_column=Column(Enum(OrderStatus, name="orderstatus"), nullable=False))
    quantity: int
