"""The catalogue: languages, actors, categories, films and the tables that link them.

``film`` carries the PostgreSQL-only parts of Pagila: the ``mpaa_rating`` enum with its
pg_dump-style cast default, ``special_features text[]`` and the full-text ``tsvector`` column
(filled by a trigger in Pagila; the trigger is not part of the tables).
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ARRAY, CHAR, CheckConstraint, Index, SmallInteger, Text, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlmodel import Field, SQLModel

from ._types import SCHEMA, MpaaRating, fk, last_update, mpaa_rating_type


class Language(SQLModel, table=True):
    __tablename__ = "language"
    __table_args__ = {"schema": SCHEMA}

    language_id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=CHAR(20), nullable=False)
    last_update: datetime | None = last_update()


class Actor(SQLModel, table=True):
    __tablename__ = "actor"
    __table_args__ = (Index("idx_actor_last_name", "last_name"), {"schema": SCHEMA})

    actor_id: int | None = Field(default=None, primary_key=True)
    first_name: str = Field(max_length=45)
    last_name: str = Field(max_length=45)
    last_update: datetime | None = last_update()


class Category(SQLModel, table=True):
    __tablename__ = "category"
    __table_args__ = {"schema": SCHEMA}

    category_id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=25)
    last_update: datetime | None = last_update()


class Film(SQLModel, table=True):
    __tablename__ = "film"
    __table_args__ = (
        # Pagila's `year` domain: integer CHECK (VALUE >= 1901 AND VALUE <= 2155).
        CheckConstraint("release_year >= 1901 AND release_year <= 2155", name="film_release_year_check"),
        Index("film_fulltext_idx", "fulltext", postgresql_using="gist"),
        Index("idx_fk_language_id", "language_id"),
        Index("idx_fk_original_language_id", "original_language_id"),
        Index("idx_title", "title"),
        {"schema": SCHEMA},
    )

    film_id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=255)
    description: str | None = Field(default=None, sa_type=Text)
    release_year: int | None = None
    language_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("language.language_id")], nullable=False)
    original_language_id: int | None = Field(
        default=None, sa_type=SmallInteger, sa_column_args=[fk("language.language_id")]
    )
    rental_duration: int = Field(default=3, sa_type=SmallInteger, sa_column_kwargs={"server_default": text("3")})
    rental_rate: Decimal = Field(
        default=Decimal("4.99"), max_digits=4, decimal_places=2, sa_column_kwargs={"server_default": text("4.99")}
    )
    length: int | None = Field(default=None, sa_type=SmallInteger)
    replacement_cost: Decimal = Field(
        default=Decimal("19.99"), max_digits=5, decimal_places=2, sa_column_kwargs={"server_default": text("19.99")}
    )
    rating: MpaaRating | None = Field(
        default=MpaaRating.G, sa_type=mpaa_rating_type(), sa_column_kwargs={"server_default": text("'G'::mpaa_rating")}
    )
    last_update: datetime | None = last_update()
    special_features: list[str] | None = Field(default=None, sa_type=ARRAY(Text))
    fulltext: str = Field(sa_type=TSVECTOR, nullable=False)


class FilmActor(SQLModel, table=True):
    __tablename__ = "film_actor"
    __table_args__ = (Index("idx_fk_film_id", "film_id"), {"schema": SCHEMA})

    actor_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("actor.actor_id")], primary_key=True)
    film_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("film.film_id")], primary_key=True)
    last_update: datetime | None = last_update()


class FilmCategory(SQLModel, table=True):
    __tablename__ = "film_category"
    __table_args__ = {"schema": SCHEMA}

    film_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("film.film_id")], primary_key=True)
    category_id: int = Field(sa_type=SmallInteger, sa_column_args=[fk("category.category_id")], primary_key=True)
    last_update: datetime | None = last_update()
