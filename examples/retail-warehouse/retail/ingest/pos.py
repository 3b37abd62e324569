"""Loads point-of-sale extracts into bronze.pos_transaction."""
import pandas as pd


def load_pos_file(path: str) -> int:
    frame = pd.read_csv(path, parse_dates=["sold_at"])
    return len(frame)
