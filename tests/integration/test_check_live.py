"""`dkenv check`'s live pass against real PostgreSQL and MySQL (MariaDB) containers.

Each test runs in a `DKENV_SCOPE` of its own (so other sessions' containers on the same engine
are never seen), and fails if anything it started is still there at the end. dkenv's own images
are used (built here if missing: no registry is reachable on CI).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integration.conftest import scoped_containers

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.mysql, pytest.mark.usefixtures("local_images", "scope")]

ROOT = Path(__file__).resolve().parents[2]
CHECK_KITS = ROOT / "tests" / "fixtures" / "check_datakits"
PORTABLE = CHECK_KITS / "portable"
TRAPS = CHECK_KITS / "traps"
EXAMPLES = ROOT / "examples"
LONG = "raw_salesforce_opportunity_line_item_schedule_history_snapshot_v2"
TRAP_TABLES = ["reading", "note", "note_tag", "ledger", LONG, "schedule_note"]
ENGINES = ("sqlite", "postgres", "mysql")


def matrix_rows(out: str) -> dict[str, list[str]]:
    header, *rows = out.split("\n\n")[0].splitlines()
    return {row.split()[0]: row.split()[1:] for row in rows}


# --------------------------------------------------------------------------- passing datakits
def test_portable_datakit_passes_everywhere(dk):
    r = dk("check", PORTABLE)
    assert r.code == 0, r.out + r.err
    assert matrix_rows(r.out) == {t: ["✓", "✓", "✓"] for t in ("region", "store", "sale")}
    assert "9 ok" in r.out
    assert "dkenv: checked on SQLite 3." in r.err and "PostgreSQL 15." in r.err
    assert "MariaDB 10.11" in r.err
    for engine in ("SQLite", "PostgreSQL", "MySQL"):
        row = next(line for line in r.err.splitlines() if line.strip().startswith(engine + " "))
        assert len(row.split()) == 7  # start deploy validate smoke stop total


def test_bronze_then_silver_examples_pass(dk):
    r = dk("check", EXAMPLES / "bronze-pagila", EXAMPLES / "silver-pagila")
    assert r.code == 0, r.out + r.err
    rows = matrix_rows(r.out)
    assert len(rows) == 15
    assert all(all(mark.rstrip("*") == "✓" for mark in marks) for marks in rows.values()), r.out


# --------------------------------------------------------------------------- traps
def test_traps_fail_on_the_right_engine_json_and_junit(dk, tmp_path):
    junit = tmp_path / "check.xml"
    r = dk("check", TRAPS, "--json", "--junit", junit)
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    assert doc["success"] is False
    assert doc["engines"] == list(ENGINES) and doc["tables"] == TRAP_TABLES
    assert doc["matrix"] == {
        "reading": {"sqlite": "failed", "postgres": "failed", "mysql": "ok"},
        "note": {"sqlite": "ok", "postgres": "ok", "mysql": "problems"},
        "note_tag": {"sqlite": "ok", "postgres": "ok", "mysql": "ok"},
        "ledger": {"sqlite": "ok", "postgres": "ok", "mysql": "problems"},
        LONG: {"sqlite": "ok", "postgres": "failed", "mysql": "failed"},
        "schedule_note": {"sqlite": "ok", "postgres": "skipped", "mysql": "skipped"},
    }
    detail = {(x["table"], x["engine"]): x["detail"] for x in doc["results"]}
    # The database's own words, trimmed to the line that matters.
    assert detail["reading", "sqlite"] == "smoke row refused (ref): unknown function: uuid()"
    assert detail["reading", "postgres"] == "function uuid() does not exist"
    assert detail[LONG, "mysql"] == f"MySQL error 1103: Incorrect table name '{LONG}'"
    assert "exceeds maximum length of 63" in detail[LONG, "postgres"]
    assert detail["ledger", "mysql"].startswith("smoke row (amount): wrote 12.34, read back 12")
    assert detail["schedule_note", "mysql"] == (
        f"not tried: it references {LONG}, which failed on this engine")
    # MariaDB keys a TEXT prefix silently; MySQL 8 refuses: the static error keeps the cell red.
    assert detail["note", "mysql"].startswith("deployed on MariaDB 10.11")
    assert "text-index" in detail["note", "mysql"]
    # Each failure comes with its fix.
    fixes = {(f["table"], f["engine"], f["code"]): f["fix"] for f in doc["findings"]}
    assert "default_factory=uuid.uuid4" in fixes["reading", "postgres", "engine-default"]
    assert "mysql_length=" in fixes["note", "mysql", "text-index"]
    assert "max_digits=" in fixes["ledger", "mysql", "numeric-precision"]
    assert doc["servers"]["mysql"].startswith("MariaDB 10.11")
    assert set(doc["timings"]["engines"]) == set(ENGINES)

    root = ET.parse(junit).getroot()
    assert root.get("tests") == str(len(TRAP_TABLES) * 3)
    cases = {(s.get("name").split()[-1], c.get("name")): c
             for s in root.findall("testsuite") for c in s.findall("testcase")}
    assert len(cases) == len(TRAP_TABLES) * len(ENGINES)
    failed = {key for key, case in cases.items() if case.find("failure") is not None}
    assert failed == {("sqlite", "reading"), ("postgres", "reading"), ("postgres", LONG),
                      ("mysql", LONG), ("mysql", "note"), ("mysql", "ledger")}
    skipped = {key for key, case in cases.items() if case.find("skipped") is not None}
    assert skipped == {("postgres", "schedule_note"), ("mysql", "schedule_note")}
    failure = cases["postgres", "reading"].find("failure")
    assert failure.get("message") == "function uuid() does not exist"
    assert "fix: Field(default_factory=uuid.uuid4)" in failure.text


def test_only_the_requested_engines_start(dk, client, scope):
    r = dk("check", TRAPS, "--engines", "mysql", "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["engines"] == ["mysql"] and set(doc["servers"]) == {"mysql"}
    assert doc["matrix"]["reading"] == {"mysql": "ok"}
    assert "starting MySQL (" in r.err and "PostgreSQL" not in r.err


# --------------------------------------------------------------------------- environment
def test_an_image_that_cannot_be_had_is_exit_3_after_the_other_engines(dk, monkeypatch):
    monkeypatch.setenv("DKENV_MYSQL_IMAGE", "dkenv/no-such-image:0")
    r = dk("check", PORTABLE, "--engines", "sqlite,mysql")
    assert r.code == 3
    assert matrix_rows(r.out) == {t: ["✓", "–"] for t in ("region", "store", "sale")}
    assert "dkenv: error: " in r.err and "dkenv/no-such-image:0" in r.err
    assert "hint: " in r.err and "Traceback" not in r.err


def test_ctrl_c_while_containers_start_removes_them(client, scope):
    """SIGINT as soon as the workers have created their containers: all of them are removed."""
    env = {**os.environ, "DKENV_SCOPE": scope}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dkenv", "check", str(PORTABLE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while len(scoped_containers(client, scope)) < 2:  # both containers exist, not yet ready
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the containers never appeared"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "removing the check's containers" in err
    assert "Traceback" not in err
    assert scoped_containers(client, scope) == []


def test_a_dangling_key_fails_only_its_own_table(dk):
    """Checked on the servers, too: the good table is ✓, the orphan ✗ with the reason."""
    r = dk("check", CHECK_KITS / "dangling", "--engines", "postgres,mysql", "--json")
    assert r.code == 1, r.out + r.err
    doc = json.loads(r.out)
    assert doc["matrix"] == {"good": {"postgres": "ok", "mysql": "ok"},
                             "orphan": {"postgres": "failed", "mysql": "failed"}}
    details = {x["detail"] for x in doc["results"] if x["table"] == "orphan"}
    assert all("orphan.parent_id references nowhere" in d for d in details), details


def test_check_judges_the_tables_not_its_own_values_on_every_engine(dk):
    """Issue 19: a JSON-list TypeDecorator passes, a type dkenv cannot fill is `?` (exit 0),
    an enum stored by names keeps its ✓ with a warning written for a declarative model."""
    r = dk("check", CHECK_KITS / "decorated", "--json")
    assert r.code == 0, r.out + r.err
    doc = json.loads(r.out)
    assert doc["matrix"] == {"spawner": dict.fromkeys(ENGINES, "ok"),
                             "place": dict.fromkeys(ENGINES, "unchecked"),
                             "job": dict.fromkeys(ENGINES, "ok")}, doc["results"]
    labels = [f for f in doc["findings"] if f["code"] == "enum-labels"]
    assert {f["engine"] for f in labels} == set(ENGINES)
    assert all(f["fix"].startswith("mapped_column(Enum(Kind, values_callable=") for f in labels)
