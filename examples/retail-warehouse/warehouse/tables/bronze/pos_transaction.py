from datetime import datetime
from decimal import Decimal

from platform_utils.columns import Loaded
from platform_utils.naming import schema
from sqlmodel import Field

from .product import Product
from .store import Store


class PosTransaction(Loaded, table=True):
    __tablename__ = "pos_transaction"
    __table_args__ = {"schema": schema("bronze")}

    transaction_id: int = Field(primary_key=True)
    line_no: int = Field(primary_key=True)
    store_id: int = Field(foreign_key=f"{Store.__table__.fullname}.store_id", index=True)
    sku: str = Field(foreign_key=f"{Product.__table__.fullname}.sku", max_length=32)
    quantity: int
    amount: Decimal = Field(max_digits=12, decimal_places=2)
    sold_at: datetime = Field(index=True)
