from platform_utils.columns import Loaded
from platform_utils.naming import schema
from sqlmodel import Field


class Store(Loaded, table=True):
    __tablename__ = "store"
    __table_args__ = {"schema": schema("bronze")}

    store_id: int = Field(primary_key=True)
    name: str = Field(max_length=120)
    city: str = Field(max_length=80)
    opened_on: str | None = Field(default=None, max_length=10)
