"""Naming rules shared by every datakit of the platform."""


def schema(layer: str) -> str:
    """Physical schema of a medallion layer: ``bronze`` -> ``retail_bronze``."""
    return f"retail_{layer}"
