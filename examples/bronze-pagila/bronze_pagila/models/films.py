from datetime import datetime
from decimal import Decimal

from sqlmodel import Field

from ._base import SCHEMA, BronzeAudit


class Actor(BronzeAudit, table=True):
    __tablename__ = "actor"
    __table_args__ = {"schema": SCHEMA}

    actor_id: int = Field(primary_key=True)
    first_name: str = Field(max_length=45)
    last_name: str = Field(max_length=45, index=True)
    last_update: datetime | None = None


class Category(BronzeAudit, table=True):
    __tablename__ = "category"
    __table_args__ = {"schema": SCHEMA}

    category_id: int = Field(primary_key=True)
    name: str = Field(max_length=25)
    last_update: datetime | None = None


class Film(BronzeAudit, table=True):
    __tablename__ = "film"
    __table_args__ = {"schema": SCHEMA}

    film_id: int = Field(primary_key=True)
    title: str = Field(max_length=255, index=True)
    description: str | None = Field(default=None, max_length=1000)
    release_year: int | None = None
    language_id: int
    rental_duration: int = 3
    rental_rate: Decimal = Field(default=Decimal("4.99"), max_digits=4, decimal_places=2)
    length: int | None = None
    replacement_cost: Decimal = Field(default=Decimal("19.99"), max_digits=5, decimal_places=2)
    rating: str | None = Field(default=None, max_length=10)
    last_update: datetime | None = None


class FilmActor(BronzeAudit, table=True):
    __tablename__ = "film_actor"
    __table_args__ = {"schema": SCHEMA}

    actor_id: int = Field(primary_key=True)
    film_id: int = Field(primary_key=True, index=True)
    last_update: datetime | None = None
