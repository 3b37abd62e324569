"""`dkenv validate` end to end on SQLite: a datakit deployed by dkenv validates clean, and a
drift made to the file afterwards (a CHECK dropped, a default changed) fails with exit 1 and
the drift's kind in the JSON problems."""

from __future__ import annotations

import json
import sqlite3
import textwrap

KIT = '''
from sqlalchemy import CheckConstraint, Column, Numeric, String
from sqlmodel import Field, SQLModel


class Price(SQLModel, table=True):
    __tablename__ = "price"
    __table_args__ = (CheckConstraint("amount > 0", name="ck_price_amount"),)
    id: int = Field(primary_key=True)
    amount: float = Field(sa_column=Column(Numeric(18, 6), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False, server_default="EUR"))
'''


def test_drift_after_deploy_is_reported_with_its_kind(dk, tmp_path) -> None:
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "prices.py").write_text(textwrap.dedent(KIT))
    path = tmp_path / "wh.db"
    url = f"sqlite:///{path}"
    deployed = dk("deploy", kit, "--url", url, "--validate")
    assert deployed.code == 0, deployed.err
    clean = dk("validate", kit, "--url", url, "--json")
    assert clean.code == 0, clean.out + clean.err

    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE price_new (id INTEGER NOT NULL PRIMARY KEY,"
            " amount NUMERIC(10, 2) NOT NULL, currency VARCHAR(3) DEFAULT 'USD' NOT NULL);"
            "INSERT INTO price_new SELECT id, amount, currency FROM price;"
            "DROP TABLE price; ALTER TABLE price_new RENAME TO price;"
        )
    drifted = dk("validate", kit, "--url", url, "--json")
    assert drifted.code == 1, drifted.err
    problems = json.loads(drifted.out)["validation"]["problems"]
    assert {(p["table"], p["kind"]) for p in problems} == {
        ("price", "check"), ("price", "default"), ("price", "type_mismatch")}
