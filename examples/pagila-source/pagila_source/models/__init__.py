from ._types import MpaaRating
from .customer import Customer
from .film import Actor, Category, Film, FilmActor, FilmCategory, Language
from .location import Address, City, Country
from .rental import Inventory, Payment, Rental
from .store import Staff, Store

__all__ = [
    "Actor", "Address", "Category", "City", "Country", "Customer", "Film", "FilmActor",
    "FilmCategory", "Inventory", "Language", "MpaaRating", "Payment", "Rental", "Staff", "Store",
]
