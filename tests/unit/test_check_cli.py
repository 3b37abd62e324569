"""`dkenv check` without Docker: --static, and the live pass on in-memory SQLite.

The fixture datakits live in tests/fixtures/check_datakits: `portable` deploys everywhere,
`traps` holds one table per trap that only a live database shows (see its docstrings).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

CHECK_KITS = Path(__file__).resolve().parents[1] / "fixtures" / "check_datakits"
PORTABLE = CHECK_KITS / "portable"
TRAPS = CHECK_KITS / "traps"
LONG = "raw_salesforce_opportunity_line_item_schedule_history_snapshot_v2"
TRAP_TABLES = ["reading", "note", "note_tag", "ledger", LONG, "schedule_note"]


# --------------------------------------------------------------------------- static pass
def test_static_portable_passes(dk):
    r = dk("check", PORTABLE, "--static")
    assert r.code == 0, r.err
    header, *rows = r.out.split("\n\n")[0].splitlines()
    assert header.split() == ["table", "SQLite", "PostgreSQL", "MySQL"]
    assert [row.split() for row in rows] == [[t, "✓", "✓", "✓"] for t in ("region", "store", "sale")]
    assert "dkenv: timings: load" in r.err and "static" in r.err
    assert "starting" not in r.err  # no container, no database


def test_static_traps_fail_with_the_fix(dk):
    r = dk("check", TRAPS, "--static")
    assert r.code == 1
    rows = {line.split()[0]: line.split()[1:] for line in r.out.splitlines()[1:7]}
    assert rows["reading"] == ["✗", "✗", "✓"]
    assert rows["note"] == ["✓", "✓", "✗"]
    assert "reading.ref [PostgreSQL] engine-default" in r.out
    assert "fix: Field(default_factory=uuid.uuid4)" in r.out
    assert "MySQL rejects identifiers over 64" in r.out


# --------------------------------------------------------------------------- live, SQLite only
def test_sqlite_portable_passes(dk):
    r = dk("check", PORTABLE, "--engines", "sqlite")
    assert r.code == 0, r.out + r.err
    assert [line.split() for line in r.out.splitlines()[:4]] == [
        ["table", "SQLite"], ["region", "✓"], ["store", "✓"], ["sale", "✓"]]
    assert "dkenv: checked on SQLite 3." in r.err
    timing = next(line for line in r.err.splitlines() if line.strip().startswith("SQLite"))
    assert len(timing.split()) == 1 + 6  # start deploy validate smoke stop total


def test_sqlite_trap_fails_with_the_databases_message(dk):
    r = dk("check", TRAPS, "--engines", "sqlite")
    assert r.code == 1
    assert "✗ reading on SQLite: smoke row refused (ref): unknown function: uuid()" in r.out
    assert "fix: Field(default_factory=uuid.uuid4)" in r.out  # the finding with the fix, below


def test_bronze_then_silver_pass_and_silver_alone_fails(dk, examples):
    r = dk("check", examples / "bronze-pagila", examples / "silver-pagila", "--engines", "sqlite")
    assert r.code == 0, r.out + r.err
    assert "15 ok" in r.out

    r = dk("check", examples / "silver-pagila", "--engines", "sqlite")
    assert r.code == 1
    assert ("sv__pagila.rental_fact on SQLite: foreign key sv__pagila.rental_fact.rental_id "
            "references br__pagila__public.rental, which neither the checked datakits nor the "
            "database define") in r.out  # its own missing parent first, not the failed sibling
    assert "1 failed" not in r.out and "2 failed" in r.out


def test_json_is_one_document_with_the_matrix(dk):
    r = dk("check", TRAPS, "--engines", "sqlite", "--json")
    assert r.code == 1
    doc = json.loads(r.out)  # stdout holds exactly one document
    assert doc["success"] is False and doc["static_only"] is False
    assert doc["datakits"] == ["traps"] and doc["engines"] == ["sqlite"]
    assert doc["tables"] == TRAP_TABLES
    assert doc["matrix"]["reading"] == {"sqlite": "failed"}
    assert doc["matrix"]["ledger"] == {"sqlite": "ok"}
    reading = next(x for x in doc["results"] if x["table"] == "reading")
    assert reading == {"engine": "sqlite", "table": "reading", "status": "failed",
                       "detail": "smoke row refused (ref): unknown function: uuid()"}
    fix = next(f for f in doc["findings"] if f["table"] == "reading" and f["engine"] == "sqlite")
    assert fix["severity"] == "error" and "uuid.uuid4" in fix["fix"]
    assert all(f["engine"] == "sqlite" for f in doc["findings"])
    assert doc["summary"]["failed"] == 1
    assert set(doc["timings"]) == {"load", "static", "engines", "live_wall"}
    assert set(doc["timings"]["engines"]["sqlite"]) == {"start", "deploy", "validate", "smoke", "stop"}
    assert doc["servers"]["sqlite"].startswith("SQLite 3.")


def test_static_json(dk):
    r = dk("check", PORTABLE, "--static", "--json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["success"] is True and doc["static_only"] is True
    assert doc["matrix"] == {t: {"sqlite": "ok", "postgres": "ok", "mysql": "ok"}
                             for t in ("region", "store", "sale")}
    assert doc["findings"] == [] and "servers" not in doc


def test_junit_one_case_per_table_and_engine(dk, tmp_path):
    path = tmp_path / "check.xml"
    r = dk("check", TRAPS, "--engines", "sqlite", "--junit", path)
    assert r.code == 1
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("6", "1")
    (suite,) = root.findall("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == TRAP_TABLES
    failure = cases["reading"].find("failure")
    assert failure is not None and "unknown function: uuid()" in failure.get("message")
    assert "uuid.uuid4" in failure.text  # the fix, in the CI report
    assert all(cases[t].find("failure") is None for t in TRAP_TABLES if t != "reading")


def test_junit_static_covers_every_engine(dk, tmp_path):
    path = tmp_path / "static.xml"
    assert dk("check", TRAPS, "--static", "--junit", path).code == 1
    root = ET.parse(path).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"dkenv check {e}" for e in ("sqlite", "postgres", "mysql")]
    assert sum(len(s.findall("testcase")) for s in suites) == 6 * 3
    failed = {(s.get("name").split()[-1], c.get("name")) for s in suites
              for c in s.findall("testcase") if c.find("failure") is not None}
    assert failed == {("sqlite", "reading"), ("postgres", "reading"), ("mysql", "note"),
                      ("mysql", LONG)}


# --------------------------------------------------------------------------- colour
def test_no_colour_in_pipes_colour_on_a_terminal_unless_no_color(dk, monkeypatch):
    assert "\x1b[" not in dk("check", PORTABLE, "--static").out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    from dkenv.cli import check as check_cli

    assert check_cli._color() is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert check_cli._color() is False


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--engines", "oracle"), "unknown engine 'oracle'"),
        (("--engines", ","), "--engines is empty"),
        (("--junit", "/nonexistent/dir/x.xml"), "does not exist"),
    ],
)
def test_bad_options_exit_2(dk, args, needle):
    r = dk("check", PORTABLE, *args)
    assert r.code == 2
    assert needle in r.err and "Traceback" not in r.err
    assert r.out == ""


def test_bad_path_exits_2_before_anything_runs(dk):
    r = dk("check", PORTABLE, "/nonexistent/kit")
    assert r.code == 2
    assert "'/nonexistent/kit' does not exist" in r.err
    assert "timings" not in r.err and r.out == ""


def test_bad_input_with_json_is_still_one_document(dk):
    r = dk("check", "/nonexistent/kit", "--engines", "sqlite", "--json")
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["success"] is False and doc["error"]["exit_code"] == 2


def test_no_docker_is_exit_3_and_says_what_works_without(tmp_path):
    """A subprocess: the Docker client is cached per process, and DOCKER_HOST must win."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    env.pop("DOCKER_CONTEXT", None)
    proc = subprocess.run([sys.executable, "-m", "dkenv", "check", str(PORTABLE), "--engines",
                           "sqlite,postgres"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "no Docker engine answers" in proc.stderr
    assert "`dkenv check --static` or `dkenv check --engines sqlite` work without Docker" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


# --------------------------------------------------------------------------- help, import cost
def test_help_has_examples(dk):
    r = dk("check", "--help")
    assert r.code == 0
    for needle in ("Examples:", "dkenv check examples/bronze-pagila examples/silver-pagila",
                   "--static", "--engines", "--junit", "Exit codes"):
        assert needle in r.out


def test_importing_the_command_is_light():
    code = ("import sys, dkenv.cli.check; "
            "print(sorted(m for m in ('sqlalchemy', 'docker', 'sqlmodel') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the library call
def test_live_check_api_on_sqlite():
    from dkenv.check.live import live_check
    from dkenv.datakit import load_datakit

    report = live_check([load_datakit(TRAPS)], ["sqlite3"])
    cells = {r.table: r.status for r in report.results}
    assert cells == {"reading": "failed", "note": "ok", "note_tag": "ok", "ledger": "ok",
                     LONG: "ok", "schedule_note": "ok"}
    assert report.errors == {} and report.environment_error is None
    assert set(report.timings["sqlite"]) == {"start", "deploy", "validate", "smoke", "stop"}


def test_live_check_skips_dependants_of_a_failed_table():
    """A table that fails on CREATE takes its dependants with it (skipped, not failed)."""
    import sqlalchemy as sa

    from dkenv.check.live import live_check

    metadata = sa.MetaData()
    parent = sa.Table("parent", metadata, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("v", sa.Integer, server_default=sa.text("(no_such_function(1))")),
                      sa.CheckConstraint("v >", name="broken"))  # a syntax error on CREATE
    child = sa.Table("child", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("parent_id", sa.ForeignKey("parent.id")))
    report = live_check([[parent, child]], ["sqlite"])
    by_table = {r.table: r for r in report.results}
    assert by_table["parent"].status == "failed" and "syntax error" in by_table["parent"].detail
    assert by_table["child"].status == "skipped"
    assert by_table["child"].detail == "not tried: it references parent, which failed on this engine"


def test_unknown_engine_in_the_api_is_a_usage_error():
    from dkenv.check.live import live_check
    from dkenv.errors import UsageError

    with pytest.raises(UsageError, match="unknown engine 'db2'"):
        live_check([[]], ["db2"])


def test_unknown_engine_with_json_is_one_document(dk):
    r = dk("check", PORTABLE, "--engines", "oracle", "--json")
    assert r.code == 2
    assert "unknown engine 'oracle'" in json.loads(r.out)["error"]["message"]


def test_a_table_is_checked_in_isolation_from_a_neighbours_dangling_key(dk):
    """A dangling foreign key in one table never fails the others (issue 9)."""
    r = dk("check", CHECK_KITS / "dangling", "--engines", "sqlite", "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["matrix"] == {"good": {"sqlite": "ok"}, "orphan": {"sqlite": "failed"}}
    orphan = next(x for x in doc["results"] if x["table"] == "orphan")
    assert "orphan.parent_id references nowhere" in orphan["detail"]
    assert "Transaction()" not in r.out


# --------------------------------------------------------------------------- issue 19: verdicts
DECORATED = CHECK_KITS / "decorated"


def test_check_judges_the_tables_not_its_own_values(dk):
    """A JSON-list TypeDecorator gets a list (✓); a type dkenv cannot make a value for is its
    own limit (?), not the table's ✗; an enum stored by names is a warning on a ✓ cell, with
    the fix written for a declarative model."""
    r = dk("check", DECORATED, "--engines", "sqlite", "--json")
    assert r.code == 0, r.out + r.err
    doc = json.loads(r.out)
    assert doc["matrix"] == {"spawner": {"sqlite": "ok"}, "place": {"sqlite": "unchecked"},
                             "job": {"sqlite": "ok"}}
    place = next(x for x in doc["results"] if x["table"] == "place")
    assert "PointType takes none of the values dkenv tried" in place["detail"]
    labels = [f for f in doc["findings"] if f["code"] == "enum-labels"]
    assert labels and labels[0]["severity"] == "warning"
    assert labels[0]["fix"] == "mapped_column(Enum(Kind, values_callable=lambda e: [m.value for m in e]))"
    human = dk("check", DECORATED, "--engines", "sqlite")
    rows = {line.split()[0]: line.split()[1:] for line in human.out.splitlines()[1:4]}
    assert rows == {"spawner": ["✓"], "place": ["?"], "job": ["✓*"]}
    assert "dkenv's limit, not the table's" in human.out
