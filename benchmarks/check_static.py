"""Time `dkenv check --static` on a generated 300-table datakit (median of 5 runs).

The tables look like a real bronze/silver datakit: integer keys, foreign keys to earlier
tables, bounded and unbounded strings, decimals, timestamps with server defaults, enums,
JSON and UUID columns, and indexes — so every trap module does real work.

    python benchmarks/check_static.py [--tables 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import enum
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlmodel.sql.sqltypes import AutoString

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dkenv.check import static_check  # noqa: E402


class Status(enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"


def build_tables(count: int) -> list[sa.Table]:
    """``count`` tables in two schemas, each with ~14 columns, 2 indexes and 0–2 foreign keys."""
    metadata = sa.MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})
    tables: list[sa.Table] = []
    for i in range(count):
        schema = "bronze" if i < count // 2 else "silver"
        columns: list[sa.Column | sa.Index] = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("code", AutoString(length=40), nullable=False, unique=True),
            sa.Column("name", AutoString(), nullable=False),  # unbounded str
            sa.Column("description", sa.Text),
            sa.Column("amount", sa.Numeric(12, 2)),
            sa.Column("ratio", sa.Numeric()),  # no precision
            sa.Column("quantity", sa.Integer, index=True),
            sa.Column("active", sa.Boolean, server_default=sa.false()),
            sa.Column("status", sa.Enum(Status, name=f"status_{i}")),
            sa.Column("attributes", sa.JSON),
            sa.Column("external_ref", sa.Uuid),
            sa.Column("created_at", sa.DateTime(timezone=True),
                      server_default=sa.text("now()")),
            sa.Column("updated_at", sa.DateTime, server_default=sa.func.current_timestamp()),
            sa.Column("valid_from", sa.Date),
        ]
        for back in (1, 7):
            if i - back >= 0:
                parent = tables[i - back]
                columns.append(sa.Column(f"parent_{back}_id", sa.Integer,
                                         sa.ForeignKey(parent.c.id), index=True))
        tables.append(sa.Table(f"entity_{i:03d}", metadata, *columns, schema=schema))
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    tables = build_tables(args.tables)
    columns = sum(len(t.columns) for t in tables)
    timings = []
    findings = []
    for _ in range(args.runs):
        start = time.perf_counter()
        findings = static_check(tables)
        timings.append(time.perf_counter() - start)
    errors = sum(f.severity == "error" for f in findings)
    print(f"static_check: {args.tables} tables, {columns} columns, 3 engines")
    print(f"  findings: {len(findings)} ({errors} errors)")
    print(f"  median of {args.runs}: {statistics.median(timings) * 1000:.0f} ms "
          f"(min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
