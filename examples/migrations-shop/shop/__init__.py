"""A small shop: customers and their orders (the models the migrations must build)."""
