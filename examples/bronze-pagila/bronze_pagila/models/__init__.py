from .customers import Address, City, Country, Customer
from .films import Actor, Category, Film, FilmActor
from .rentals import Inventory, Payment, Rental, Staff, Store

__all__ = [
    "Actor", "Address", "Category", "City", "Country", "Customer", "Film", "FilmActor",
    "Inventory", "Payment", "Rental", "Staff", "Store",
]
