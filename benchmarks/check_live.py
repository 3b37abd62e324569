"""Time `dkenv check` (static + live pass) on the example datakits, three engines (median of runs).

Each run is a fresh `dkenv check examples/bronze-pagila examples/silver-pagila --json` process,
as a user would type it: interpreter start, datakit discovery, the static pass, then SQLite,
PostgreSQL and MySQL (MariaDB) in parallel, each with its container started and removed. It
prints the medians of the wall time and of each phase per engine (from the JSON document's
`timings`), and the goal of issue 5: the whole command under 15 s.

    python benchmarks/check_live.py [--runs 3] [--engines sqlite,postgres,mysql] [--json]

Uses dkenv's local images unless DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE are set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KITS = [ROOT / "examples" / "bronze-pagila", ROOT / "examples" / "silver-pagila"]
PHASES = ("start", "deploy", "validate", "smoke", "stop")
GOAL_S = 15.0


def one_run(engines: str) -> tuple[float, dict]:
    env = {"DKENV_POSTGRES_IMAGE": "dkenv/postgres:15",
           "DKENV_MYSQL_IMAGE": "dkenv/mysql:mariadb-10.11", **os.environ}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dkenv", "check", *map(str, KITS),
                           "--engines", engines, "--json"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"dkenv check failed (exit {proc.returncode}):\n{proc.stderr}")
    return wall, json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="sqlite,postgres,mysql")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    walls: list[float] = []
    docs: list[dict] = []
    for _ in range(args.runs):
        wall, doc = one_run(args.engines)
        walls.append(wall)
        docs.append(doc)
    engines = docs[0]["engines"]
    med = statistics.median
    figures = {
        "runs": args.runs,
        "tables": len(docs[0]["tables"]),
        "servers": docs[0].get("servers", {}),
        "success": all(d["success"] for d in docs),
        "wall_s": round(med(walls), 2),
        "wall_max_s": round(max(walls), 2),
        "load_s": round(med(d["timings"]["load"] for d in docs), 3),
        "static_s": round(med(d["timings"]["static"] for d in docs), 3),
        "live_wall_s": round(med(d["timings"]["live_wall"] for d in docs), 2),
        "engines": {e: {p: round(med(d["timings"]["engines"][e][p] for d in docs), 3)
                        for p in PHASES} for e in engines},
        "goal_s": GOAL_S,
    }
    figures["meets_goal"] = figures["wall_max_s"] < GOAL_S
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"dkenv check on the examples ({figures['tables']} tables), {', '.join(engines)}; "
          f"median of {args.runs} runs")
    print(f"  servers: {', '.join(figures['servers'].values())}")
    print(f"  whole command   {figures['wall_s']:6.2f} s  (max {figures['wall_max_s']:.2f} s; "
          f"goal < {GOAL_S:.0f} s: {'met' if figures['meets_goal'] else 'MISSED'})")
    print(f"  datakit load    {figures['load_s']:6.2f} s")
    print(f"  static pass     {figures['static_s']:6.2f} s")
    print(f"  live pass       {figures['live_wall_s']:6.2f} s  (engines in parallel)")
    print("  per engine (s) " + "".join(f"{p:>9}" for p in (*PHASES, "total")))
    for engine, row in figures["engines"].items():
        print(f"    {engine:<13}" + "".join(f"{row[p]:>9.2f}" for p in PHASES)
              + f"{sum(row.values()):>9.2f}")
    print(f"  all runs successful (exit 0): {figures['success']}")


if __name__ == "__main__":
    main()
