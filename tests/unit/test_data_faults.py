"""Faults and hostile input on SQLite loads: nothing silently changed, no internal error.

Limits declared only on the SQLAlchemy column (``sa_column=Column(String(5))``), a Latin-1
byte in a UTF-8 file, mixed naive and aware timestamps, a full disk (a real 2 MB tmpfs).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

LIMITS = FIXTURES / "limits"
SHOP = FIXTURES / "shop"
SHOP_DATA = ROOT / "tests" / "fixtures" / "data" / "shop"
HEADER = "id,code,price,qty,day,seen_at,local_at,tiny\n"


@pytest.fixture
def limits_db(tmp_path, dk) -> Path:
    db = tmp_path / "limits.db"
    result = dk("deploy", LIMITS, "--target-type", "sqlite", "--database", db)
    assert result.code == 0, result.err
    return db


def items(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT * FROM item ORDER BY id").fetchall()
    finally:
        conn.close()


def load_items(dk, db: Path, tmp_path: Path, *lines: str, extra: tuple[str, ...] = ()):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "item.csv").write_text(HEADER + "".join(line + "\n" for line in lines))
    return dk("load", data, "--url", f"sqlite:///{db}", LIMITS, *extra), data / "item.csv"


# ---------------------------------------------------------------------------
# Limits of the SQLAlchemy column types
# ---------------------------------------------------------------------------
def test_limits_declared_only_on_the_column_are_bad_rows(dk, limits_db, tmp_path):
    """SQLite would store all of these as given; PostgreSQL refuses them; a lenient MariaDB cuts them."""
    result, csv = load_items(
        dk, limits_db, tmp_path,
        "1,toolongvalue,1.5,1,2024-01-02,,,",
        "2,ok,1234.567,1,2024-01-02,,,",
        "3,ok,12345.6,1,2024-01-02,,,",
        "4,ok,1.5,40000,2024-01-02,,,",
        "5,exact,9999.99,32767,2024-01-02,,,",
    )
    assert result.code == 1, result.err
    assert f"{csv}:2: item.code: 12 characters, but the column holds at most 5 (String(5)) ('toolongvalue')" in result.err
    assert f"{csv}:3: item.price: 3 decimal place(s), but the column keeps 2 (Numeric(6, 2))" in result.err
    assert f"{csv}:4: item.price: 5 digit(s) before the decimal point, but the column holds 4" in result.err
    assert f"{csv}:5: item.qty: out of range for SmallInteger (-32768 to 32767)" in result.err
    assert ":6:" not in result.err  # values exactly at the limits are fine
    assert "internal error" not in result.err
    assert items(limits_db) == []


def test_values_within_the_limits_load_unchanged(dk, limits_db, tmp_path):
    result, _ = load_items(dk, limits_db, tmp_path, "1,exact,9999.99,-32768,2024-01-02T00:00:00,,,1")
    assert result.code == 0, result.err
    assert items(limits_db) == [(1, "exact", 9999.99, -32768, "2024-01-02", None, None, 1)]


def test_a_timestamp_with_a_time_in_a_date_column_is_a_bad_row(dk, limits_db, tmp_path):
    result, csv = load_items(dk, limits_db, tmp_path, "1,a,1,1,2024-01-02T10:30:00,,,")
    assert result.code == 1
    assert f"{csv}:2: item.day:" in result.err
    assert items(limits_db) == []


# ---------------------------------------------------------------------------
# Time zones: decided by DateTime(timezone=), the same on every engine
# ---------------------------------------------------------------------------
def test_aware_timestamps_keep_their_instant_in_utc(dk, limits_db, tmp_path):
    """SQLite has no time zones: before, 03:04:05+01:00 was stored as 03:04:05 (another instant)."""
    result, _ = load_items(dk, limits_db, tmp_path, "1,a,1,1,,2024-01-02T03:04:05+01:00,2024-01-02T03:04:05Z,")
    assert result.code == 0, result.err
    row = items(limits_db)[0]
    assert row[5].startswith("2024-01-02 02:04:05") and row[6].startswith("2024-01-02 03:04:05")


def test_naive_and_aware_timestamps_mixed_are_bad_rows(dk, limits_db, tmp_path):
    result, csv = load_items(
        dk, limits_db, tmp_path,
        "1,a,1,1,,2024-01-02T03:04:05+00:00,2024-01-02T03:04:05Z,",
        "2,b,1,1,,2024-01-02T03:04:05,2024-01-02T03:04:05,",
        "3,c,1,1,,,2024-01-02T03:04:05+02:00,",
    )
    assert result.code == 1, result.err
    assert f"{csv}:3: item.seen_at: no time zone offset, but the column keeps an instant" in result.err
    assert f"{csv}:3: item.local_at: a naive timestamp in a column whose values were timezone-aware first " \
           f"(at {csv}:2)" in result.err
    assert f"{csv}:4: item.local_at: a time zone offset other than UTC" in result.err
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert items(limits_db) == []


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------
@pytest.fixture
def shop_db(tmp_path, dk) -> Path:
    db = tmp_path / "shop.db"
    result = dk("deploy", SHOP, "--target-type", "sqlite", "--database", db)
    assert result.code == 0, result.err
    return db


def test_a_latin1_byte_names_file_line_and_encoding_option(dk, shop_db, tmp_path):
    data = tmp_path / "latin"
    data.mkdir()
    (data / "country.csv").write_bytes(b"code,name\nDE,Germany\nFR,Fran\xe7e\n")
    result = dk("load", data, "--url", f"sqlite:///{shop_db}", SHOP)
    assert result.code == 2, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines[0] == f"dkenv: error: {data / 'country.csv'}:3: not valid UTF-8 text (byte 0xe7 at column 8)"
    assert "--encoding latin-1" in lines[1] and len(lines) == 2

    result = dk("load", data, "--encoding", "latin-1", "--url", f"sqlite:///{shop_db}", SHOP)
    assert result.code == 0, result.err
    conn = sqlite3.connect(shop_db.with_name("shop.shop.db"))
    assert conn.execute("SELECT name FROM country WHERE code = 'FR'").fetchone() == ("Fran\u00e7e",)
    conn.close()


def test_a_byte_order_mark_is_read_past_and_an_unknown_encoding_is_bad_usage(dk, shop_db, tmp_path):
    data = tmp_path / "bom"
    data.mkdir()
    (data / "country.csv").write_bytes(b"\xef\xbb\xbfcode,name\nDE,Germany\n")
    assert dk("load", data, "--url", f"sqlite:///{shop_db}", SHOP).code == 0
    result = dk("load", data, "--encoding", "klingon", "--url", f"sqlite:///{shop_db}", SHOP)
    assert result.code == 2 and "unknown encoding 'klingon'" in result.err


def test_deploy_data_takes_the_encoding_too(dk, tmp_path):
    data = tmp_path / "latin"
    data.mkdir()
    (data / "country.csv").write_bytes(b"code,name\nFR,Fran\xe7e\n")
    db = tmp_path / "d.db"
    bad = dk("deploy", SHOP, "--target-type", "sqlite", "--database", db, "--data", data)
    assert bad.code == 2 and "--encoding" in bad.err
    good = dk("deploy", SHOP, "--target-type", "sqlite", "--database", db, "--data", data, "--encoding", "latin-1")
    assert good.code == 0, good.err


# ---------------------------------------------------------------------------
# A full disk
# ---------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs: a real ENOSPC / SQLITE_FULL, not a simulated one."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_under_a_sqlite_file_is_one_line_exit_3(dk, small_disk, tmp_path):
    db = small_disk / "shop.db"
    assert dk("deploy", SHOP, "--target-type", "sqlite", "--database", db).code == 0
    data = tmp_path / "big"
    data.mkdir()
    (data / "employee.csv").write_text(
        "id,name\n" + "".join(f"{i},worker number {i} with a long name\n" for i in range(1, 60_001)))
    result = dk("load", data, "--target", "sqlite_file", "--database", db, SHOP)
    assert result.code == 3, result.err
    lines = [line for line in result.err.splitlines() if line.strip() and not line.startswith("dkenv: loading")]
    assert lines[0].startswith("dkenv: error: loading into the SQLite file ")
    assert "the disk is full (database or disk is full); nothing was loaded" in lines[0]
    assert lines[1].startswith("  hint: free space") and len(lines) == 2
    assert "MySQL error" not in result.err and "internal error" not in result.err
    conn = sqlite3.connect(db)
    conn.execute("ATTACH DATABASE ? AS shop", (str(db.with_name("shop.shop.db")),))
    assert conn.execute("SELECT count(*) FROM shop.employee").fetchone() == (0,)
    conn.close()


def test_no_space_for_the_loads_temporary_files_is_exit_3(dk, small_disk, tmp_path, monkeypatch):
    """Rows past 50,000 per file are parked in a temp file: here on the full 2 MB tmpfs."""
    import tempfile

    db = tmp_path / "shop.db"
    assert dk("deploy", SHOP, "--target-type", "sqlite", "--database", db).code == 0
    data = tmp_path / "big"
    data.mkdir()
    (data / "employee.csv").write_text(
        "id,name\n" + "".join(f"{i},worker number {i} with a long name\n" for i in range(1, 120_001)))
    monkeypatch.setattr(tempfile, "tempdir", str(small_disk))
    result = dk("load", data, "--url", f"sqlite:///{db}", SHOP)
    assert result.code == 3, result.err
    assert f"dkenv: error: no space left for the load's temporary files in {small_disk} " in result.err
    assert "nothing was loaded" in result.err and "TMPDIR" in result.err
    assert "internal error" not in result.err


def test_env_up_takes_the_data_files_encoding(dk, tmp_path, monkeypatch):
    """`env up --data` reads files as `load` does: a Latin-1 byte is refused with the hint, and
    `--encoding latin-1` loads it; the refused environment leaves nothing up."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "latin"
    data.mkdir()
    (data / "country.csv").write_bytes(b"code,name\nDE,Germany\nFR,Fran\xe7e\n")
    (tmp_path / "dkenv.toml").write_text(
        f'[environments.latin.databases.a]\nengine = "sqlite"\ndatakits = ["{SHOP}"]\n', encoding="utf-8")
    refused = dk("env", "up", "latin", "--data", data)
    assert refused.code == 2, refused.err
    assert f"{data / 'country.csv'}:3: not valid UTF-8 text" in refused.err
    assert "--encoding latin-1" in refused.err and "Traceback" not in refused.err
    (listed,) = [line.split() for line in dk("env", "ls").out.splitlines() if line.startswith("latin ")]
    assert listed[1] == "down"  # nothing left up
    result = dk("env", "up", "latin", "--data", data, "--encoding", "latin-1", "--json")
    try:
        assert result.code == 0, result.err
        (database,) = json.loads(result.out)["databases"].values()
        main_file = Path(database["url"].removeprefix("sqlite:///"))
        conn = sqlite3.connect(main_file.with_name(main_file.stem + ".shop.db"))
        assert conn.execute("SELECT name FROM country WHERE code = 'FR'").fetchone() == ("Fran\u00e7e",)
        conn.close()
    finally:
        dk("env", "down", "latin")
