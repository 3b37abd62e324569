"""The CLI on SQLite: output, JSON, exit codes and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def test_deploy_validate_human(dk, examples):
    r = dk("deploy", examples / "bronze-pagila", "--validate")
    assert r.code == 0, r.err
    assert "13 table(s) created" in r.out and "no problems" in r.out


def test_deploy_json_is_one_document(dk, examples):
    r = dk("deploy", examples / "bronze-pagila", examples / "silver-pagila", "--validate", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["success"] is True and doc["target"] == "sqlite_memory"
    assert doc["datakits"] == ["bronze-pagila", "silver-pagila"]
    assert "sv__pagila.rental_fact" in doc["tables"] and "br__pagila__public.film" in doc["tables"]
    assert doc["validation"] == {"success": True, "problems": []}


def test_list_targets(dk):
    for args in (("targets",), ("deploy", "--list-targets")):
        r = dk(*args)
        assert r.code == 0
        for name in ("sqlite_memory", "sqlite_file", "postgres_container", "postgres_local",
                     "mysql_container", "mysql_local"):
            assert name in r.out


def test_targets_json_hides_passwords(dk, tmp_path, monkeypatch):
    (tmp_path / "dkenv.toml").write_text('[targets.wh]\ntype = "postgres"\npassword = "s3cret"\n')
    monkeypatch.chdir(tmp_path)
    r = dk("targets", "--json")
    assert "s3cret" not in r.out
    assert any(t["name"] == "wh" for t in json.loads(r.out))


def _one_or_two_lines(err: str) -> None:
    progress = ("dkenv: deploying", "dkenv: starting", "dkenv: waiting")
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(progress)]
    assert 1 <= len(lines) <= 2, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("deploy", "/nonexistent/kit"), "does not exist"),
        (("deploy", "{fixtures}/flat/people.py"), "is a file"),
        (("deploy", "{fixtures}/syntax_error"), "broken.py:4"),
        (("deploy", "{fixtures}/missing_dep"), "surely_not_installed_package"),
        (("deploy", "{fixtures}/no_tables"), "defines no table classes"),
        (("deploy", "{fixtures}/duplicate_table"), "dup.thing"),
        (("deploy", "{fixtures}/flat", "--target", "nope"), "unknown target 'nope'"),
        (("deploy", "{fixtures}/flat", "--target-type", "postgres", "--port", "0"), "out of range"),
        (("deploy", "{fixtures}/flat", "--target-type", "postgres", "--port", "70000"), "out of range"),
        (("deploy", "{fixtures}/flat", "--target-type", "postgres", "--port", "abc"), "not a port"),
        (("deploy", "{fixtures}/flat", "--url", "::nonsense::"), "malformed --url"),
    ],
)
def test_bad_input_exit_2(dk, fixtures, args, needle):
    r = dk(*(a.format(fixtures=fixtures) for a in args))
    assert r.code == 2, (r.out, r.err)
    assert needle in r.err
    _one_or_two_lines(r.err)
    assert r.out == ""


def test_empty_directory(dk, tmp_path):
    (tmp_path / "kit").mkdir()
    r = dk("deploy", tmp_path / "kit")
    assert r.code == 2 and "holds no Python modules" in r.err


def test_malformed_config_file(dk, tmp_path, monkeypatch, fixtures):
    (tmp_path / "dkenv.toml").write_text("[targets\n")
    monkeypatch.chdir(tmp_path)
    r = dk("deploy", fixtures / "flat")
    assert r.code == 2 and f"{tmp_path / 'dkenv.toml'}:1" in r.err
    _one_or_two_lines(r.err)


def test_unreachable_host_fails_fast_with_exit_3(dk, fixtures):
    import time

    started = time.monotonic()
    # 127.0.0.1:1 refuses at once; a blackholed host is bounded by the 5 s connect timeout.
    r = dk("deploy", fixtures / "flat", "--target-type", "postgres", "--host", "127.0.0.1", "--port", "1",
           "--password", "pw")
    assert r.code == 3, r.err
    assert "cannot connect to postgres at" in r.err and "***" in r.err and "pw@" not in r.err
    _one_or_two_lines(r.err)
    assert time.monotonic() - started < 10


def test_deploy_failure_is_exit_1_with_json(dk, fixtures):
    r = dk("deploy", fixtures / "pg_only_default", "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["success"] is False and "gen_random_uuid" in doc["error"]["message"]


def test_debug_shows_traceback(dk, fixtures):
    r = dk("--debug", "deploy", "/nonexistent/kit")
    assert r.code == 2 and "Traceback" in r.err


def test_validate_reports_missing_tables(dk, fixtures, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    r = dk("validate", fixtures / "flat", "--url", url, "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert {(p["table"], p["kind"]) for p in doc["validation"]["problems"]} == {
        ("person", "missing_table"), ("pet", "missing_table")}


def test_deploy_file_then_validate_in_another_process(dk, fixtures, tmp_path):
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    assert dk("deploy", fixtures / "project_src", "--url", url).code == 0
    r = dk("validate", fixtures / "project_src", "--url", url)
    assert r.code == 0, r.err
    assert (tmp_path / "wh.shop.db").exists()


def test_version_and_help_examples():
    out = subprocess.run([sys.executable, "-m", "dkenv", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "0.1.0" in out.stdout
    for cmd in ("deploy", "validate", "targets"):
        help_ = subprocess.run([sys.executable, "-m", "dkenv", cmd, "--help"], capture_output=True, text=True)
        assert help_.returncode == 0, help_.stderr
        assert "Example" in help_.stdout


def test_validate_refuses_a_target_that_starts_empty(dk, fixtures):
    r = dk("validate", fixtures / "flat", "--target", "postgres_container")
    assert r.code == 2 and "nothing to validate" in r.err
