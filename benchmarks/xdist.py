"""Does pytest-xdist make a dkenv suite faster?  ``-n 0`` against ``-n 2``, same tests (a benchmark).

Generates one test file: ``--tests`` database tests (default 200, spread over ``--engines``),
each inserting a row into a fresh isolated database of ``examples/bronze-pagila`` (13 tables)
and counting it.  Times the whole ``pytest`` run (server start, templates, tests, removal)
with ``-n 0`` and with ``-n 2``, alternating, ``--rounds`` times, and prints each wall, the
medians and the ratio ``-n 2 / -n 0`` (below 1: xdist helps).  Under xdist the workers share
one server per engine (dkenv.testing.xdist); before, each worker started its own.
An untimed run first fills the bytecode cache (see :func:`run`).

    python benchmarks/xdist.py                          # postgres + mysql, 200 tests, 3 rounds
    python benchmarks/xdist.py --engines postgres --rounds 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATAKIT = ROOT / "examples" / "bronze-pagila"

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


def run(folder: Path, engines: str, workers: int) -> float:
    """Wall seconds of one whole pytest run; a failing run aborts the benchmark.

    Bytecode is cached (in the run's folder) as on a developer's machine: where
    PYTHONDONTWRITEBYTECODE is set, every interpreter -- each xdist worker too -- would compile
    and assertion-rewrite all of dkenv again, a fixed cost per process users do not pay.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
           "PYTHONPYCACHEPREFIX": str(folder / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
           f"--dkenv-engines={engines}", "-n", str(workers), "test_generated.py"]
    began = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"pytest -n {workers} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="postgres,mysql")
    parser.add_argument("--tests", type=int, default=200, help="database tests in all (spread over the engines)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DKENV_POSTGRES_IMAGE", "dkenv/postgres:15")
    os.environ.setdefault("DKENV_MYSQL_IMAGE", "dkenv/mysql:mariadb-10.11")
    engines = [e for e in args.engines.split(",") if e]
    per_engine = -(-args.tests // len(engines))
    walls: dict[int, list[float]] = {0: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="dkenv-bench-xdist-") as tmp:
        folder = Path(tmp)
        (folder / "test_generated.py").write_text(TEST_FILE.format(datakit=str(DATAKIT), count=per_engine))
        run(folder, ",".join(engines), 0)  # untimed: fills the bytecode cache
        for index in range(args.rounds):
            order = (0, 2) if index % 2 == 0 else (2, 0)  # alternate: load drift hits both alike
            for workers in order:
                walls[workers].append(run(folder, ",".join(engines), workers))
    medians = {n: statistics.median(w) for n, w in walls.items()}
    ratio = medians[2] / medians[0]
    result = {"engines": engines, "tests": per_engine * len(engines), "rounds": args.rounds,
              "walls_s": {f"-n {n}": [round(x, 2) for x in w] for n, w in walls.items()},
              "median_s": {f"-n {n}": round(m, 2) for n, m in medians.items()},
              "ratio_n2_over_n0": round(ratio, 2)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"xdist: {result['tests']} database tests on {', '.join(engines)} "
          f"({os.cpu_count()} cores), {args.rounds} rounds, whole pytest runs")
    for n in (0, 2):
        print(f"  -n {n}: median {medians[n]:6.2f} s   walls {', '.join(f'{x:.2f}' for x in walls[n])}")
    print(f"  -n 2 / -n 0 = {ratio:.2f}  ({'faster' if ratio < 1 else 'SLOWER'} with two workers)")


if __name__ == "__main__":
    main()
