"""Silver Pagila: cleaned, conformed tables with foreign keys into the bronze layer."""

from .tables import CustomerProfile, RentalFact

__all__ = ["CustomerProfile", "RentalFact"]
