"""Shared pieces of every bronze table: the schema and the audit columns."""

from datetime import datetime

from sqlalchemy import text
from sqlmodel import Field, SQLModel

SCHEMA = "br__pagila__public"


class BronzeAudit(SQLModel):
    """Audit columns that the loader fills; the database stamps the load time."""

    br_load_time: datetime = Field(
        sa_column_kwargs={"server_default": text("now()"), "nullable": False}
    )
    br_source_file: str | None = Field(default=None, max_length=255)
