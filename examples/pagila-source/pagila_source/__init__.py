"""Pagila, the PostgreSQL sample database, as SQLModel tables: the source the bronze datakit lands."""

from .models import (
    Actor,
    Address,
    Category,
    City,
    Country,
    Customer,
    Film,
    FilmActor,
    FilmCategory,
    Inventory,
    Language,
    MpaaRating,
    Payment,
    Rental,
    Staff,
    Store,
)

__all__ = [
    "Actor", "Address", "Category", "City", "Country", "Customer", "Film", "FilmActor",
    "FilmCategory", "Inventory", "Language", "MpaaRating", "Payment", "Rental", "Staff", "Store",
]
