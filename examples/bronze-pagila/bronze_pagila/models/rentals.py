from datetime import datetime
from decimal import Decimal

from sqlmodel import Field

from ._base import SCHEMA, BronzeAudit


class Store(BronzeAudit, table=True):
    __tablename__ = "store"
    __table_args__ = {"schema": SCHEMA}

    store_id: int = Field(primary_key=True)
    manager_staff_id: int
    address_id: int
    last_update: datetime | None = None


class Staff(BronzeAudit, table=True):
    __tablename__ = "staff"
    __table_args__ = {"schema": SCHEMA}

    staff_id: int = Field(primary_key=True)
    first_name: str = Field(max_length=45)
    last_name: str = Field(max_length=45)
    address_id: int
    email: str | None = Field(default=None, max_length=50)
    store_id: int
    active: bool = True
    username: str = Field(max_length=16)
    last_update: datetime | None = None


class Inventory(BronzeAudit, table=True):
    __tablename__ = "inventory"
    __table_args__ = {"schema": SCHEMA}

    inventory_id: int = Field(primary_key=True)
    film_id: int = Field(index=True)
    store_id: int
    last_update: datetime | None = None


class Rental(BronzeAudit, table=True):
    __tablename__ = "rental"
    __table_args__ = {"schema": SCHEMA}

    rental_id: int = Field(primary_key=True)
    rental_date: datetime
    inventory_id: int = Field(index=True)
    customer_id: int = Field(index=True)
    return_date: datetime | None = None
    staff_id: int
    last_update: datetime | None = None


class Payment(BronzeAudit, table=True):
    __tablename__ = "payment"
    __table_args__ = {"schema": SCHEMA}

    payment_id: int = Field(primary_key=True)
    customer_id: int = Field(index=True)
    staff_id: int
    rental_id: int | None = None
    amount: Decimal = Field(max_digits=5, decimal_places=2)
    payment_date: datetime
