"""Fill a dev database with sample rows: python scripts/load_sample_data.py URL"""
import sys

if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
