"""Where customers, staff and stores are: country, city, address."""

from datetime import datetime

from sqlalchemy import Index, SmallInteger
from sqlmodel import Field, SQLModel

from ._types import SCHEMA, fk, last_update


class Country(SQLModel, table=True):
    __tablename__ = "country"
    __table_args__ = {"schema": SCHEMA}

    country_id: int | None = Field(default=None, primary_key=True)
    country: str = Field(max_length=50)
    last_update: datetime | None = last_update()


class City(SQLModel, table=True):
    __tablename__ = "city"
    __table_args__ = (Index("idx_fk_country_id", "country_id"), {"schema": SCHEMA})

    city_id: int | None = Field(default=None, primary_key=True)
    city: str = Field(max_length=50)
    country_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("country.country_id")], nullable=False)
    last_update: datetime | None = last_update()


class Address(SQLModel, table=True):
    __tablename__ = "address"
    __table_args__ = (Index("idx_fk_city_id", "city_id"), {"schema": SCHEMA})

    address_id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=50)
    address2: str | None = Field(default=None, max_length=50)
    district: str = Field(max_length=20)
    city_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("city.city_id")], nullable=False)
    postal_code: str | None = Field(default=None, max_length=10)
    phone: str = Field(max_length=20)
    last_update: datetime | None = last_update()
