from datetime import datetime

from sqlmodel import Field

from ._base import SCHEMA, BronzeAudit


class Country(BronzeAudit, table=True):
    __tablename__ = "country"
    __table_args__ = {"schema": SCHEMA}

    country_id: int = Field(primary_key=True)
    country: str = Field(max_length=50)
    last_update: datetime | None = None


class City(BronzeAudit, table=True):
    __tablename__ = "city"
    __table_args__ = {"schema": SCHEMA}

    city_id: int = Field(primary_key=True)
    city: str = Field(max_length=50)
    country_id: int = Field(index=True)
    last_update: datetime | None = None


class Address(BronzeAudit, table=True):
    __tablename__ = "address"
    __table_args__ = {"schema": SCHEMA}

    address_id: int = Field(primary_key=True)
    address: str = Field(max_length=50)
    address2: str | None = Field(default=None, max_length=50)
    district: str = Field(max_length=20)
    city_id: int = Field(index=True)
    postal_code: str | None = Field(default=None, max_length=10)
    phone: str = Field(max_length=20)
    last_update: datetime | None = None


class Customer(BronzeAudit, table=True):
    __tablename__ = "customer"
    __table_args__ = {"schema": SCHEMA}

    customer_id: int = Field(primary_key=True)
    store_id: int = Field(index=True)
    first_name: str = Field(max_length=45)
    last_name: str = Field(max_length=45, index=True)
    email: str | None = Field(default=None, max_length=50)
    address_id: int
    activebool: bool = True
    create_date: datetime | None = None
    last_update: datetime | None = None
    active: int | None = None
