"""The business: inventory copies, rentals and the payments for them.

Newer Pagila partitions ``payment`` by month; this is the plain table the partitions share.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Index, SmallInteger
from sqlmodel import Field, SQLModel

from ._types import SCHEMA, fk, last_update


class Inventory(SQLModel, table=True):
    __tablename__ = "inventory"
    __table_args__ = (Index("idx_store_id_film_id", "store_id", "film_id"), {"schema": SCHEMA})

    inventory_id: int | None = Field(default=None, primary_key=True)
    film_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("film.film_id")], nullable=False)
    store_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("store.store_id")], nullable=False)
    last_update: datetime | None = last_update()


class Rental(SQLModel, table=True):
    __tablename__ = "rental"
    __table_args__ = (
        Index("idx_fk_inventory_id", "inventory_id"),
        Index("idx_unq_rental_rental_date_inventory_id_customer_id", "rental_date", "inventory_id", "customer_id", unique=True),
        {"schema": SCHEMA},
    )

    rental_id: int | None = Field(default=None, primary_key=True)
    rental_date: datetime = Field(sa_type=DateTime(), nullable=False)
    inventory_id: int = Field(sa_column_args=[fk("inventory.inventory_id")], nullable=False)
    customer_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("customer.customer_id")], nullable=False)
    return_date: datetime | None = Field(default=None, sa_type=DateTime())
    staff_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("staff.staff_id")], nullable=False)
    last_update: datetime | None = last_update()


class Payment(SQLModel, table=True):
    __tablename__ = "payment"
    __table_args__ = (
        Index("idx_fk_customer_id", "customer_id"),
        Index("idx_fk_staff_id", "staff_id"),
        {"schema": SCHEMA},
    )

    payment_id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("customer.customer_id")], nullable=False)
    staff_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("staff.staff_id")], nullable=False)
    rental_id: int = Field(sa_column_args=[fk("rental.rental_id", ondelete="SET NULL")], nullable=False)
    amount: Decimal = Field(max_digits=5, decimal_places=2)
    payment_date: datetime = Field(sa_type=DateTime(), nullable=False)
