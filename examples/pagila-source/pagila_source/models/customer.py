"""Customers, with the pg_dump-style defaults Pagila is known for.

``create_date date DEFAULT ('now'::text)::date NOT NULL`` is how pg_dump writes ``CURRENT_DATE``;
``last_update`` is nullable here, unlike every other Pagila table.
"""

from datetime import date, datetime

from sqlalchemy import Index, SmallInteger, text
from sqlmodel import Field, SQLModel

from ._types import SCHEMA, fk, last_update


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    __table_args__ = (
        Index("idx_fk_address_id", "address_id"),
        Index("idx_fk_store_id", "store_id"),
        Index("idx_last_name", "last_name"),
        {"schema": SCHEMA},
    )

    customer_id: int | None = Field(default=None, primary_key=True)
    store_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("store.store_id")], nullable=False)
    first_name: str = Field(max_length=45)
    last_name: str = Field(max_length=45)
    email: str | None = Field(default=None, max_length=50)
    address_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("address.address_id")], nullable=False)
    activebool: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    create_date: date | None = Field(
        default=None, nullable=False, sa_column_kwargs={"server_default": text("('now'::text)::date")}
    )
    last_update: datetime | None = last_update(nullable=True)
    active: int | None = None
