from datetime import datetime
from decimal import Decimal
from enum import Enum

from sqlalchemy import UniqueConstraint, text
from sqlmodel import Field, SQLModel

SCHEMA = "sv__pagila"
BRONZE = "br__pagila__public"


class CustomerTier(str, Enum):
    bronze = "bronze"
    silver = "silver"
    gold = "gold"


class CustomerProfile(SQLModel, table=True):
    """One row per customer, conformed; points back to the bronze row it came from."""

    __tablename__ = "customer_profile"
    __table_args__ = (UniqueConstraint("email"), {"schema": SCHEMA})

    customer_id: int = Field(primary_key=True, foreign_key=f"{BRONZE}.customer.customer_id")
    full_name: str = Field(max_length=91)
    email: str | None = Field(default=None, max_length=50)
    tier: CustomerTier = CustomerTier.bronze
    lifetime_value: Decimal = Field(default=Decimal("0"), max_digits=10, decimal_places=2)
    sv_processed_at: datetime = Field(
        sa_column_kwargs={"server_default": text("CURRENT_TIMESTAMP"), "nullable": False}
    )


class RentalFact(SQLModel, table=True):
    """One row per rental with its payment total."""

    __tablename__ = "rental_fact"
    __table_args__ = {"schema": SCHEMA}

    rental_id: int = Field(primary_key=True, foreign_key=f"{BRONZE}.rental.rental_id")
    customer_id: int = Field(foreign_key=f"{SCHEMA}.customer_profile.customer_id", index=True)
    film_id: int = Field(foreign_key=f"{BRONZE}.film.film_id", index=True)
    rented_at: datetime
    returned_at: datetime | None = None
    amount_paid: Decimal = Field(default=Decimal("0"), max_digits=7, decimal_places=2)
