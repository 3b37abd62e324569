"""`dkenv check` output: the matrix, the JSON document and the JUnit file agree."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from dkenv.check import Finding
from dkenv.check.report import (
    CheckResult,
    is_success,
    render_matrix,
    results_from_findings,
    to_json,
    write_junit,
)

FINDINGS = [
    Finding("bronze.customer", "email", "mysql", "warning", "unbounded-string",
            "str without max_length is VARCHAR(255) on MySQL", "Field(max_length=255)"),
    Finding("bronze.visit", "seen_at", "sqlite", "error", "engine-default",
            "gen_random_uuid() is a PostgreSQL function", "Field(default_factory=uuid.uuid4)"),
]
RESULTS = [
    CheckResult("sqlite", "bronze.customer", "ok"),
    CheckResult("postgres", "bronze.customer", "ok"),
    CheckResult("mysql", "bronze.customer", "problems", "smoke row: value cut"),
    CheckResult("sqlite", "bronze.visit", "failed", "unknown function: gen_random_uuid()"),
    CheckResult("postgres", "bronze.visit", "ok"),
    CheckResult("mysql", "bronze.visit", "skipped", "MySQL did not start"),
]


def test_matrix_has_one_mark_per_cell_and_lists_findings() -> None:
    text = render_matrix(RESULTS, FINDINGS, color=False)
    lines = text.splitlines()
    assert lines[0].split() == ["table", "SQLite", "PostgreSQL", "MySQL"]
    assert lines[1].split() == ["bronze.customer", "✓", "✓", "!"]
    assert lines[2].split() == ["bronze.visit", "✗", "✓", "–"]
    assert "\x1b[" not in text
    assert "bronze.visit on SQLite: unknown function: gen_random_uuid()" in text
    assert "fix: Field(default_factory=uuid.uuid4)" in text
    assert "2 ok" not in text and "3 ok, 1 problems, 1 failed, 1 skipped" in text


def test_matrix_colour_only_when_asked() -> None:
    assert "\x1b[31m" in render_matrix(RESULTS, color=True)
    assert render_matrix(RESULTS, ascii_only=True).splitlines()[2].split()[1] == "X"


def test_json_has_the_same_content() -> None:
    data = json.loads(json.dumps(to_json(RESULTS, FINDINGS)))
    assert data["success"] is False
    assert data["engines"] == ["sqlite", "postgres", "mysql"]
    assert data["matrix"]["bronze.visit"] == {"sqlite": "failed", "postgres": "ok", "mysql": "skipped"}
    assert data["findings"][0]["code"] == "unbounded-string"
    assert data["summary"]["errors"] == 1 and data["summary"]["warnings"] == 1


def test_static_only_results_and_success() -> None:
    results = results_from_findings(["bronze.customer", "bronze.visit"], FINDINGS)
    statuses = {(r.table, r.engine): r.status for r in results}
    assert statuses[("bronze.customer", "mysql")] == "ok"  # a warning deploys
    assert statuses[("bronze.visit", "sqlite")] == "failed"
    assert statuses[("bronze.visit", "postgres")] == "ok"
    assert not is_success(results)
    assert render_matrix(results, FINDINGS).splitlines()[1].split() == ["bronze.customer", "✓", "✓", "✓*"]
    assert is_success(results_from_findings(["bronze.customer"], [], ["postgres"]))


def test_junit_one_case_per_table_and_engine(tmp_path) -> None:
    path = tmp_path / "check.xml"
    write_junit(path, RESULTS, FINDINGS)
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("6", "2", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"dkenv check sqlite", "dkenv check postgres", "dkenv check mysql"}
    visit = suites["dkenv check sqlite"].find("testcase[@name='bronze.visit']")
    failure = visit.find("failure")
    assert failure.get("message") == "unknown function: gen_random_uuid()"
    assert "fix: Field(default_factory=uuid.uuid4)" in failure.text
    customer = suites["dkenv check mysql"].find("testcase[@name='bronze.customer']")
    assert customer.find("failure").get("type") == "problems"
    assert "fix: Field(max_length=255)" in customer.find("system-out").text
    assert suites["dkenv check mysql"].find("testcase[@name='bronze.visit']/skipped") is not None


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(ValueError, match="deployed"):
        CheckResult("sqlite", "t", "deployed")


def test_unchecked_cell_passes_and_says_why(tmp_path) -> None:
    """`?`: dkenv could not make a smoke row — its limit, not the table's: exit 0, JUnit pass."""
    from dkenv.check.report import CheckResult, is_success, render_matrix, write_junit

    results = [CheckResult("sqlite", "place", "unchecked", "no smoke row (spot): dkenv cannot"
                           " generate a value")]
    assert is_success(results)
    text = render_matrix(results)
    assert text.splitlines()[1].split() == ["place", "?"]
    assert "? place on SQLite: no smoke row (spot)" in text
    write_junit(tmp_path / "j.xml", results)
    xml = (tmp_path / "j.xml").read_text()
    assert 'failures="0"' in xml and "unchecked: no smoke row (spot)" in xml
