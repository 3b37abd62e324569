"""Snapshots on SQLite: take, hand out copies, list, remove; MySQL says it is not supported."""

from __future__ import annotations

import json

from sqlalchemy import text

from dkenv.databases import SqliteServer
from tests.conftest import FIXTURES, ROOT

SHOP = FIXTURES / "shop"
SHOP_DATA = ROOT / "tests" / "fixtures" / "data" / "shop"


def count(db, table: str) -> int:
    engine = db.create_engine()
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM shop.{table}")).scalar()


def test_snapshot_after_a_step_then_copies_of_it(tmp_path):
    with SqliteServer(tmp_path / "srv") as server:
        with server.database(datakits=[SHOP], data=[SHOP_DATA]) as db:
            engine = db.create_engine()
            with engine.begin() as conn:  # "a pipeline step ran"
                conn.execute(text("DELETE FROM shop.orders WHERE customer_id = 1"))
            made = server.snapshot(db, "after-step")
            assert made.name == "after-step" and made.engine == "sqlite"
        for _ in range(2):
            with server.database(snapshot="after-step") as copy:
                assert count(copy, "orders") == 1 and count(copy, "customer") == 3
                engine = copy.create_engine()
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM shop.orders"))


def test_cli_snapshot_ls_rm(dk, tmp_path):
    db = tmp_path / "dev.db"
    assert dk("deploy", SHOP, "--target-type", "sqlite", "--database", db, "--data", SHOP_DATA).code == 0
    url = f"sqlite:///{db}"
    made = dk("snapshot", "loaded", "--url", url)
    assert made.code == 0, made.err
    assert (tmp_path / ".dkenv-snapshots" / "loaded" / "snap.db").is_file()
    assert (tmp_path / ".dkenv-snapshots" / "loaded" / "snap.shop.db").is_file()
    again = dk("snapshot", "loaded", "--url", url)
    assert again.code == 2 and "exists already" in again.err
    listed = json.loads(dk("snapshot", "ls", "--url", url, "--json").out)
    assert [s["name"] for s in listed] == ["loaded"]
    with SqliteServer(tmp_path) as server, server.database(snapshot="loaded") as copy:
        assert count(copy, "customer") == 3
    assert dk("snapshot", "rm", "loaded", "--url", url).code == 0
    assert json.loads(dk("snapshot", "ls", "--url", url, "--json").out) == []
    gone = dk("snapshot", "rm", "loaded", "--url", url)
    assert gone.code == 2 and "no snapshot named 'loaded'" in gone.err


def test_unknown_snapshot_and_bad_names(tmp_path, dk):
    import pytest

    from dkenv.errors import UsageError

    with SqliteServer(tmp_path / "srv") as server:
        with pytest.raises(UsageError, match="no snapshot named 'nope'"):
            server.database(snapshot="nope")
    bad = dk("snapshot", "Bad Name", "--url", f"sqlite:///{tmp_path / 'x.db'}")
    assert bad.code == 2 and "is not allowed" in bad.err


def test_mysql_snapshots_are_not_supported(dk):
    result = dk("snapshot", "x", "--url", "mysql+pymysql://u:p@127.0.0.1:9/db")
    assert result.code == 2
    assert "not supported on MySQL/MariaDB" in result.err
