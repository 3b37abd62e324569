"""Does pytest-xdist make a dkenv suite faster?  ``-n 0`` against ``-n 2``, same tests (a benchmark).

Two generated suites (``--suite``; both by default), ``--tests`` database tests in all (default
200, spread over ``--engines``), on the 13-table ``examples/bronze-pagila``:

* ``trivial``: each test inserts a row into a fresh isolated database and counts it (a few ms).
* ``fastapi``: the API tests of a small FastAPI + SQLModel rental-shop app on the datakit's own
  models (``benchmarks/xdist_fastapi``: the README's FastAPI recipe, ``dkenv_session`` behind the
  app's ``get_session``); each test makes 9 to 15 requests through ``TestClient`` -- creates rows,
  lists and filters them, updates or deletes one, asserts on status codes and JSON (tens of ms).

Times the whole ``pytest`` run (server start, templates, tests, removal) with ``-n 0`` and with
``-n 2``, alternating, ``--rounds`` times, and prints each wall, the medians and the ratio
``-n 2 / -n 0`` (below 1: xdist helps).  The per-test cost at ``-n 0`` is the median ``-n 0``
wall minus the median wall of a run of the same suite with one test per engine (same servers,
templates and start-up), divided by the tests beyond those.  Under xdist the workers share one
server per engine (dkenv.testing.xdist).  An untimed run first fills the bytecode cache (see
:func:`run`).

    python benchmarks/xdist.py                          # both suites, postgres + mysql, 3 rounds
    python benchmarks/xdist.py --suite fastapi --engines postgres --rounds 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATAKIT = ROOT / "examples" / "bronze-pagila"
FASTAPI_SUITE = Path(__file__).resolve().parent / "xdist_fastapi"
SUITES = ("trivial", "fastapi")
#: Test functions in the fastapi suite's api_tests.py (each runs DKENV_BENCH_CASES cases per engine).
FASTAPI_TESTS = 4

TEST_FILE = '''
import pytest
from sqlalchemy import func, select

KITS = [{datakit!r}]


@pytest.mark.dkenv(datakits=KITS)
@pytest.mark.parametrize("i", range({count}))
def test_insert_and_count(i, dkenv_database, dkenv_engine):
    actor = next(k.metadata.tables["br__pagila__public.actor"] for k in dkenv_database.datakits
                 if "br__pagila__public.actor" in k.metadata.tables)
    with dkenv_engine.begin() as conn:
        conn.execute(actor.insert().values(actor_id=1, first_name="A", last_name="B"))
        assert conn.execute(select(func.count()).select_from(actor)).scalar() == 1
'''


def write_suite(folder: Path, suite: str, per_engine: int) -> tuple[list[str], dict[str, str]]:
    """Write ``suite`` into ``folder`` with ``per_engine`` tests per engine (at least, for fastapi:
    whole cases of its 4 tests); return the pytest arguments and environment that run it."""
    folder.mkdir(parents=True, exist_ok=True)
    if suite == "trivial":
        (folder / "test_generated.py").write_text(TEST_FILE.format(datakit=str(DATAKIT), count=per_engine))
        return ["test_generated.py"], {}
    shutil.copy(FASTAPI_SUITE / "app.py", folder / "app.py")
    shutil.copy(FASTAPI_SUITE / "api_tests.py", folder / "test_api.py")
    env = {"DKENV_BENCH_DATAKIT": str(DATAKIT), "DKENV_BENCH_CASES": str(-(-per_engine // FASTAPI_TESTS))}
    args = ["test_api.py", "-W", "ignore::DeprecationWarning"]  # starlette's about httpx
    return (args + ["-k", "test_actor_crud"] if per_engine == 1 else args), env


def run(folder: Path, engines: str, workers: int, args: list[str], extra_env: dict[str, str]) -> float:
    """Wall seconds of one whole pytest run; a failing run aborts the benchmark.

    Bytecode is cached (in the run's folder) as on a developer's machine: where
    PYTHONDONTWRITEBYTECODE is set, every interpreter -- each xdist worker too -- would compile
    and assertion-rewrite all of dkenv again, a fixed cost per process users do not pay.
    """
    env = {**os.environ, **extra_env,
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
           "PYTHONPYCACHEPREFIX": str(folder.parent / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
           f"--dkenv-engines={engines}", "-n", str(workers), *args]
    began = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"pytest -n {workers} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return wall


def measure(tmp: Path, suite: str, engines: list[str], tests: int, rounds: int) -> dict:
    """One suite: ``-n 0`` and ``-n 2`` walls, and a one-test-per-engine ``-n 0`` run's, per round."""
    per_engine = -(-tests // len(engines))
    full_args, full_env = write_suite(tmp / suite, suite, per_engine)
    base_args, base_env = write_suite(tmp / f"{suite}-one", suite, 1)
    listed = ",".join(engines)
    if suite == "fastapi":
        per_engine = -(-per_engine // FASTAPI_TESTS) * FASTAPI_TESTS
    run(tmp / suite, listed, 0, full_args, full_env)  # untimed: fills the bytecode cache
    walls: dict[str, list[float]] = {"-n 0": [], "-n 2": [], "one per engine": []}
    for index in range(rounds):
        order = (0, 2) if index % 2 == 0 else (2, 0)  # alternate: load drift hits both alike
        for workers in order:
            walls[f"-n {workers}"].append(run(tmp / suite, listed, workers, full_args, full_env))
        walls["one per engine"].append(run(tmp / f"{suite}-one", listed, 0, base_args, base_env))
    medians = {k: statistics.median(w) for k, w in walls.items()}
    count = per_engine * len(engines)
    per_test = (medians["-n 0"] - medians["one per engine"]) / (count - len(engines))
    return {"suite": suite, "engines": engines, "tests": count, "rounds": rounds,
            "walls_s": {k: [round(x, 2) for x in w] for k, w in walls.items()},
            "median_s": {k: round(m, 2) for k, m in medians.items()},
            "ratio_n2_over_n0": round(medians["-n 2"] / medians["-n 0"], 2),
            "per_test_ms_at_n0": round(per_test * 1000, 1)}


def report(result: dict) -> None:
    medians, walls = result["median_s"], result["walls_s"]
    ratio = result["ratio_n2_over_n0"]
    print(f"xdist, {result['suite']} suite: {result['tests']} database tests on "
          f"{', '.join(result['engines'])} ({os.cpu_count()} cores), {result['rounds']} rounds, whole pytest runs")
    for key in ("-n 0", "-n 2"):
        print(f"  {key}: median {medians[key]:6.2f} s   walls {', '.join(f'{x:.2f}' for x in walls[key])}")
    print(f"  -n 2 / -n 0 = {ratio:.2f}  ({'faster' if ratio < 1 else 'SLOWER'} with two workers)")
    print(f"  per test at -n 0: {result['per_test_ms_at_n0']:.1f} ms  ((median -n 0 wall - median "
          f"{medians['one per engine']:.2f} s of a run with one test per engine) / "
          f"{result['tests'] - len(result['engines'])} tests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=SUITES, default=None, help="one suite (default: both)")
    parser.add_argument("--engines", default="postgres,mysql")
    parser.add_argument("--tests", type=int, default=200, help="database tests in all (spread over the engines)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DKENV_POSTGRES_IMAGE", "dkenv/postgres:15")
    os.environ.setdefault("DKENV_MYSQL_IMAGE", "dkenv/mysql:mariadb-10.11")
    engines = [e for e in args.engines.split(",") if e]
    results = []
    with tempfile.TemporaryDirectory(prefix="dkenv-bench-xdist-") as tmp:
        for suite in [args.suite] if args.suite else SUITES:
            results.append(measure(Path(tmp), suite, engines, args.tests, args.rounds))
            if not args.json:
                report(results[-1])
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
