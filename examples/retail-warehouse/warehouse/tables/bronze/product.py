from decimal import Decimal

from platform_utils.columns import Loaded
from platform_utils.naming import schema
from sqlmodel import Field


class Product(Loaded, table=True):
    __tablename__ = "product"
    __table_args__ = {"schema": schema("bronze")}

    sku: str = Field(primary_key=True, max_length=32)
    description: str = Field(max_length=200)
    list_price: Decimal = Field(max_digits=10, decimal_places=2)
