from datetime import date
from decimal import Decimal

from platform_utils.columns import Loaded
from platform_utils.naming import schema
from sqlmodel import Field

from warehouse.tables.bronze.store import Store


class DailyStoreSales(Loaded, table=True):
    __tablename__ = "daily_store_sales"
    __table_args__ = {"schema": schema("silver")}

    store_id: int = Field(primary_key=True, foreign_key=f"{Store.__table__.fullname}.store_id")
    sales_date: date = Field(primary_key=True)
    transactions: int
    revenue: Decimal = Field(max_digits=14, decimal_places=2)
