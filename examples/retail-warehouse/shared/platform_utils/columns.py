"""Column conventions: every table records when a row was loaded."""
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Field, SQLModel


class Loaded(SQLModel):
    """Mixin (not a table): the load timestamp, filled by the database."""

    loaded_at: datetime | None = Field(
        default=None, sa_column_kwargs={"server_default": text("CURRENT_TIMESTAMP")})
