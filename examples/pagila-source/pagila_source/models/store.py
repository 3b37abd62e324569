"""Stores and their staff: Pagila's foreign-key cycle.

A store is managed by a member of staff (``store.manager_staff_id -> staff``) and every member
of staff works in a store (``staff.store_id -> store``). Neither table can be created before the
other with its keys inline; ``create_all`` creates both and adds the keys with ALTER TABLE.
"""

from datetime import datetime

from sqlalchemy import Index, LargeBinary, SmallInteger, text
from sqlmodel import Field, SQLModel

from ._types import SCHEMA, fk, last_update


class Store(SQLModel, table=True):
    __tablename__ = "store"
    __table_args__ = (Index("idx_unq_manager_staff_id", "manager_staff_id", unique=True), {"schema": SCHEMA})

    store_id: int | None = Field(default=None, primary_key=True)
    manager_staff_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("staff.staff_id")], nullable=False)
    address_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("address.address_id")], nullable=False)
    last_update: datetime | None = last_update()


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    __table_args__ = {"schema": SCHEMA}

    staff_id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(max_length=45)
    last_name: str = Field(max_length=45)
    address_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("address.address_id")], nullable=False)
    email: str | None = Field(default=None, max_length=50)
    # pg_dump: staff_store_id_fkey has no ON UPDATE / ON DELETE actions.
    store_id: int = Field(
        sa_type=SmallInteger, sa_column_args=[fk("store.store_id", onupdate=None, ondelete=None)], nullable=False
    )
    active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    username: str = Field(max_length=16)
    password: str | None = Field(default=None, max_length=40)
    last_update: datetime | None = last_update()
    picture: bytes | None = Field(default=None, sa_type=LargeBinary)
