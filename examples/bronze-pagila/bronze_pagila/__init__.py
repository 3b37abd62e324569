"""Bronze Pagila: raw copies of the Pagila source tables, one table per source table."""

from .models import Actor, Address, Category, City, Country, Customer, Film, FilmActor, Inventory, Payment, Rental, Staff, Store

__all__ = [
    "Actor", "Address", "Category", "City", "Country", "Customer", "Film", "FilmActor",
    "Inventory", "Payment", "Rental", "Staff", "Store",
]
