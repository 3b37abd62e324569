"""Fixtures shared by the tests that talk to a real Docker engine.

``client`` is the engine, ``local_images`` builds dkenv's own images once if they are absent
(no registry is reachable here), and ``scope`` gives each test a ``DKENV_SCOPE`` of its own:
it sees only its own containers, and anything still in its scope at the end is removed and
fails the test.  Modules opt in with ``pytest.mark.usefixtures("local_images", "scope")``.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import pytest

IMAGES = {"postgres": "dkenv/postgres:15", "mysql": "dkenv/mysql:mariadb-10.11"}


@pytest.fixture(scope="session")
def client():
    from dkenv.docker.client import get_client
    from dkenv.errors import DockerUnavailable

    try:
        return get_client()
    except DockerUnavailable as exc:
        pytest.skip(f"no Docker engine: {exc.message}")


@pytest.fixture(scope="session")
def local_images(client):
    """dkenv's images, built once if absent, selected through the DKENV_*_IMAGE variables."""
    from dkenv.docker.images import build_image, image_exists

    for engine, tag in IMAGES.items():
        if not image_exists(client, tag):
            build_image(client, engine, tag=tag, progress=lambda line: None)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DKENV_POSTGRES_IMAGE", IMAGES["postgres"])
        mp.setenv("DKENV_MYSQL_IMAGE", IMAGES["mysql"])
        yield IMAGES


def scoped_containers(client, scope: str, *, all: bool = True) -> list[dict]:  # noqa: A002
    return client.api.containers(all=all, filters={"label": [f"dkenv.scope={scope}"]})


@pytest.fixture
def scope(client, monkeypatch, request):
    """A scope of this test's own; anything left in it at the end is removed and fails the test."""
    name = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DKENV_SCOPE", name)
    yield name
    from dkenv.docker import labels as L
    from dkenv.docker.containers import remove

    leftovers = scoped_containers(client, name)
    for row in leftovers:
        # Tolerates a removal already in progress (its owner's); its socket folder goes too.
        remove(client, row["Id"], socket_folder=(row.get("Labels") or {}).get(L.SOCKET))
    if leftovers:
        names = [r["Labels"].get("dkenv.name") for r in leftovers]
        pytest.fail(f"{request.node.name} left containers behind: {names}")


def select_one(url: str) -> int:
    """Answer of ``SELECT 1`` on a fresh connection to ``url`` (the proof a server is usable)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def remote_engine(client):
    """``tcp://127.0.0.2:<free port>`` forwarded to this machine's engine, closed afterwards.

    The remote-engine tests make their own endpoint: they must not depend on how dockerd was
    started (no ``-H tcp://...`` listener is assumed, and port 2375 may be anyone's).
    """
    from dkenv.docker.client import resolve_endpoint
    from tests.engine_forward import EngineForwarder

    with EngineForwarder(resolve_endpoint().base_url) as forwarder:
        yield forwarder.url


@contextlib.contextmanager
def module_scope(client, prefix: str):
    """A container scope (``DKENV_SCOPE``) shared by one module's tests, checked for leftovers at the end."""
    name = f"dkenv-test-{prefix}-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DKENV_SCOPE", name)
        yield name
    left = client.api.containers(all=True, filters={"label": [f"dkenv.scope={name}"]})
    for row in left:
        client.api.remove_container(row["Id"], force=True)
    assert not left, f"containers left behind: {[r['Names'] for r in left]}"


@contextlib.contextmanager
def module_servers(client, prefix: str):
    """One module's servers, in a container scope of its own (:func:`module_scope`): a dict
    engine -> server the module's fixtures fill on first use; each server's isolated databases
    are closed and the server removed at the end, before the scope is checked for leftovers."""
    from dkenv.databases import close_server_databases

    with module_scope(client, prefix):
        servers: dict[str, object] = {}
        try:
            yield servers
        finally:
            for server in servers.values():
                close_server_databases(server)
                server.stop()
