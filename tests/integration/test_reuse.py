"""``reuse=True``: what it may adopt, what it leaves behind, and racing processes.

Real containers in a ``DKENV_SCOPE`` of each test's own (the ``scope`` fixture removes and
fails on leftovers; reused servers outlive their starter by design, so tests remove them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import scoped_containers

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.usefixtures("local_images")]

ROOT = Path(__file__).resolve().parents[2]
BRONZE = ROOT / "examples" / "bronze-pagila"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def test_processes_racing_to_reuse_start_exactly_one(client, scope) -> None:
    code = ("from dkenv.servers.lifecycle import start; "
            "print(start('postgres', reuse=True, ttl='10m', progress=False).container)")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    ids = {out.strip() for out, _ in outs}
    running = scoped_containers(client, scope)
    try:
        assert len(ids) == 1 and [r["Id"] for r in running] == list(ids)
        labels = running[0]["Labels"]
        assert labels["dkenv.reuse"] == "true" and labels["dkenv.owner.pid"] == "0"
        assert int(labels["dkenv.ttl"]) == 600
    finally:
        for row in running:
            client.api.remove_container(row["Id"], force=True)


def test_reuse_never_adopts_a_dev_server_unless_asked_by_name(client, scope) -> None:
    from dkenv.servers.lifecycle import start

    dev = start("postgres", persistent=True, progress=False)  # what `dkenv up postgres` runs
    try:
        mine = start("postgres", reuse=True, ttl="10m", progress=False)
        assert mine.container != dev.container
        mine.remove()
        named = start("postgres", reuse=True, name=dev.name, progress=False)
        assert named.container == dev.container
        named.stop()  # an adopted server is shared: stop() leaves it running
        assert client.api.inspect_container(dev.container)["State"]["Running"]
    finally:
        dev.remove()


def test_reuse_never_adopts_another_configuration_or_scope(client, scope, monkeypatch) -> None:
    from dkenv.servers.lifecycle import start

    first = start("postgres", reuse=True, ttl="10m", progress=False)
    others = []
    try:
        others.append(start("postgres", reuse=True, ttl="10m", env={"TZ": "UTC"}, progress=False))
        monkeypatch.setenv("DKENV_SCOPE", scope + "-other")
        others.append(start("postgres", reuse=True, ttl="10m", progress=False))
        assert len({first.container, *(o.container for o in others)}) == 3
        monkeypatch.setenv("DKENV_SCOPE", scope)
        assert start("postgres", reuse=True, progress=False).container == first.container
    finally:
        for server in (first, *others):
            server.remove()


def test_server_fixture_reuse_under_xdist_starts_one_server_with_a_ttl(pytester, client, scope) -> None:
    """Two workers racing on reuse=True: one server, ownerless but with a time-to-live."""
    pytester.makeconftest('''
        from dkenv.pytest_factories import database_fixture, server_fixture  # the alias earlier READMEs showed

        pg = server_fixture("postgres", reuse=True)
        db = database_fixture("pg")
    ''')
    pytester.makepyfile(f'''
        import json, os
        from pathlib import Path
        import pytest

        @pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])
        @pytest.mark.parametrize("i", range(4))
        def test_it(i, pg, db):
            with open(Path(__file__).parent / "seen.jsonl", "a") as fh:
                fh.write(json.dumps([os.environ["PYTEST_XDIST_WORKER"], pg.container]) + "\\n")
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", timeout=600)
    left = scoped_containers(client, scope)
    try:
        result.assert_outcomes(passed=4)
        seen = [json.loads(line) for line in (pytester.path / "seen.jsonl").read_text().splitlines()]
        assert {w for w, _ in seen} == {"gw0", "gw1"}
        assert len({c for _, c in seen}) == 1 and [r["Id"] for r in left] == [seen[0][1]]
        labels = left[0]["Labels"]
        assert labels["dkenv.owner.pid"] == "0" and int(labels["dkenv.ttl"]) > 0
    finally:
        for row in left:
            client.api.remove_container(row["Id"], force=True)
