"""Pieces every Pagila table shares, spelled as pg_dump writes them.

Pagila lives in PostgreSQL's ``public`` schema; its foreign keys cascade updates and restrict
deletes; nearly every table carries ``last_update timestamp DEFAULT now() NOT NULL``.
"""

import enum
from typing import Any

from sqlalchemy import Column, DateTime, Enum, ForeignKey, text
from sqlmodel import Field

SCHEMA = "public"


class MpaaRating(enum.StrEnum):
    """``CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17')``."""

    G = "G"
    PG = "PG"
    PG_13 = "PG-13"
    R = "R"
    NC_17 = "NC-17"


def mpaa_rating_type() -> Enum:
    """The enum type, schema-less as in ``CREATE TYPE mpaa_rating``; labels are the values."""
    return Enum(MpaaRating, name="mpaa_rating", values_callable=lambda members: [m.value for m in members])


def fk(target: str, *, onupdate: str | None = "CASCADE", ondelete: str | None = "RESTRICT") -> ForeignKey:
    """A foreign key to ``table.column`` in Pagila's schema, with Pagila's usual actions."""
    return ForeignKey(f"{SCHEMA}.{target}", onupdate=onupdate, ondelete=ondelete)


def last_update(*, nullable: bool = False) -> Any:
    """``last_update timestamp without time zone DEFAULT now() [NOT NULL]``."""
    return Field(default=None, sa_column=Column("last_update", DateTime(), server_default=text("now()"), nullable=nullable))
