"""Where a test's time goes: CPU per test of the test's thread, the pool's threads, the server
and Docker's port proxy, for dkenv's plugin and the rollback pattern in the same run.

    python benchmarks/cpu_split.py                         # postgres, mysql; 600 tests; 2 rounds
    python benchmarks/cpu_split.py --engines mysql --tests 1000 --rounds 3

The suites are ``benchmarks/test_loop.py``'s (insert a row into the 13-table bronze-pagila and
count it).  Each whole ``pytest`` run reads, from ``/proc``, the CPU time of the pytest process
(its main thread apart), of every ``postgres``/``mariadbd`` process and of every
``docker-proxy`` process, at its 21st test and at its last: the steady state, without start-up
and warm-up.  Linux only (``/proc``).  Figures, never asserted; medians of the rounds.
Container images: set DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE (e.g. dkenv's local images).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_loop  # noqa: E402 - the suites, as that benchmark writes them

# Appended to each suite's conftest: CPU snapshots at the 21st test and at the last one.
_HOOK = '''
import glob as _glob, json as _json, os as _os, time as _time
_SEEN = {"n": 0}
def _cpu(path):
    fields = open(path).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _os.sysconf("SC_CLK_TCK")
def _procs(*names):
    total = 0.0
    for comm in _glob.glob("/proc/[0-9]*/comm"):
        try:
            if open(comm).read().strip() in names:
                total += _cpu(comm[:-4] + "stat")
        except (OSError, IndexError):
            pass
    return total
def _snap():
    me = _os.getpid()
    main = _cpu(f"/proc/{me}/task/{me}/stat")
    return [_time.perf_counter(), main, _cpu(f"/proc/{me}/stat") - main,
            _procs("postgres", "mariadbd", "mysqld"), _procs("docker-proxy")]
def pytest_runtest_call(item):
    _SEEN["n"] += 1
    if _SEEN["n"] == 21:
        _SEEN["a"] = _snap()
    if _SEEN["n"] == int(_os.environ["CPU_SPLIT_N"]):
        b, a, n = _snap(), _SEEN["a"], _SEEN["n"] - 21
        with open(_os.environ["CPU_SPLIT_OUT"], "w") as out:
            _json.dump([(y - x) / n * 1000 for x, y in zip(a, b)], out)
'''
PARTS = ("wall", "test thread", "pool threads", "server", "proxy")


def run(pattern: str, engine: str, n: int, root: Path) -> list[float]:
    """ms per test of each part (:data:`PARTS`) for one whole pytest run."""
    directory = test_loop.write_suite(root, pattern, engine, n)
    conftest = directory / "conftest.py"
    if _HOOK not in conftest.read_text():
        conftest.write_text(conftest.read_text() + _HOOK)
    out = root / f"{pattern}-{engine}.json"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-p", "no:pytest_alembic", str(directory)]
    if pattern.startswith("dkenv"):
        args.append(f"--dkenv-engines={engine}")
    env = {**os.environ, "CPU_SPLIT_N": str(n), "CPU_SPLIT_OUT": str(out), "DKENV_BENCH_T0": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(args, cwd=directory, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{pattern} on {engine} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="*", default=["postgres", "mysql"], choices=["postgres", "mysql", "sqlite"])
    parser.add_argument("--tests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    opts = parser.parse_args()
    if not Path("/proc/self/task").is_dir():
        sys.exit("cpu_split needs Linux's /proc")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'ms per test (median of ' + str(opts.rounds) + ')':34s}" + "".join(f"{p:>14s}" for p in PARTS))
    with tempfile.TemporaryDirectory(prefix="dkenv-cpu-split-") as tmp:
        for engine in opts.engines:
            walls = {}
            for pattern in ("dkenv", "dkenv-connection", "rollback"):
                rounds = [run(pattern, engine, opts.tests, Path(tmp) / f"r{r}") for r in range(opts.rounds)]
                medians = [statistics.median(r[i] for r in rounds) for i in range(len(PARTS))]
                walls[pattern] = medians[0]
                print(f"{test_loop.PATTERNS[pattern][0] + ', ' + engine:34s}"
                      + "".join(f"{m:14.2f}" for m in medians))
            print(f"{engine:9s} wall per test, dkenv / rollback: {walls['dkenv'] / walls['rollback']:.2f}× "
                  f"(dkenv_engine), {walls['dkenv-connection'] / walls['rollback']:.2f}× (dkenv_connection)")


if __name__ == "__main__":
    main()
