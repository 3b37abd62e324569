"""Environments as they run: container names, the SQLite state directory, ``env ls`` and ``env down``.

Works from the running containers (their names carry environment and database), so that an
environment renamed or deleted in the config can still be listed and removed.  Bringing one up
is :mod:`dkenv.environments.running`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv.engines import is_embedded
from dkenv.environments.specs import (
    DB_NAME,
    ENV_NAME,
    EnvironmentSpec,
    environment_specs,
    settings_from,
    unknown_environment,
)
from dkenv.errors import DockerUnavailable, EnvironmentFailure, UsageError
from dkenv.state import private_dir, state_root
from dkenv.state import state_dir as private_state_dir

if TYPE_CHECKING:
    from dkenv.servers.lifecycle import Server


def container_name(env: str, db: str, *, persistent: bool) -> str:
    """``env-ENV-DB`` for ``env up`` (``.<scope hash>`` under $DKENV_SCOPE); ``.<random>`` otherwise."""
    from dkenv.docker.labels import current_scope

    base = f"env-{env}-{db}"
    if not persistent:
        return f"{base}.{secrets.token_hex(3)}"
    scope = current_scope()
    return f"{base}.{hashlib.sha256(scope.encode()).hexdigest()[:6]}" if scope else base


def parse_container_name(name: str) -> tuple[str, str] | None:
    """(environment, database) of a container named by :func:`container_name`, else None."""
    if not name.startswith("env-"):
        return None
    env, sep, db = name[4:].split(".", 1)[0].rpartition("-")
    if not sep or not ENV_NAME.match(env) or not DB_NAME.match(db):
        return None
    return env, db


def state_dir(env: str, *, create: bool = False) -> Path:
    """Where ``env up`` keeps an environment's SQLite files until ``env down``.

    ``<dkenv state dir>/environments/<ENV>[-<scope hash>]`` (see :mod:`dkenv.state`): private
    to the user, 0700.  ``create``: make it (and check every level); otherwise only the path.
    """
    from dkenv.docker.labels import current_scope

    scope = current_scope()
    name = f"{env}-{hashlib.sha256(scope.encode()).hexdigest()[:6]}" if scope else env
    if create:
        return private_state_dir("environments", name)
    return state_root() / "environments" / name


def _existing(folder: Path) -> bool:
    """Whether ``folder`` exists; an existing one must be our own real directory (else exit 3)."""
    if not os.path.lexists(folder):
        return False
    private_dir(folder)
    return True


def _servers_by_env() -> dict[str, list[Server]]:
    from dkenv.servers.inventory import list_servers

    found: dict[str, list[Server]] = {}
    for server in list_servers():
        parsed = parse_container_name(server.name)
        if parsed:
            found.setdefault(parsed[0], []).append(server)
    return found


def _sqlite_files(folder: Path) -> list[str]:
    """The main database files in ``folder`` (``DB.db``; schemas are ``DB.<schema>.db``)."""
    return sorted(str(p) for p in folder.glob("*.db") if "." not in p.stem) if folder.is_dir() else []


def _remove_folder(folder: Path) -> list[str]:
    """Delete the files of an environment's folder and the folder; the databases really removed."""
    databases = set(_sqlite_files(folder))
    removed = []
    for entry in sorted(folder.iterdir()):
        try:
            entry.unlink()
        except OSError as exc:
            raise EnvironmentFailure(f"could not remove {entry}: {exc.strerror or exc}",
                                     "remove it by hand, then run `dkenv env down` again") from None
        if str(entry) in databases:
            removed.append(str(entry))
    folder.rmdir()
    return removed


def refuse_if_up(spec: EnvironmentSpec) -> None:
    """Refuse to bring ``spec`` up a second time (its containers or SQLite files exist)."""
    running = []
    if any(not is_embedded(db.engine) for db in spec.databases.values()):
        running = [s.name for s in _servers_by_env().get(spec.name, []) if s.persistent]
    folder = state_dir(spec.name)
    files = _sqlite_files(folder) if _existing(folder) else []
    if running or files:
        raise UsageError(f"environment {spec.name} is already up ({', '.join(running + files)})",
                         f"see its URLs with `dkenv env ls --show-secrets`, or remove it first: "
                         f"dkenv env down {spec.name}")


def down(name: str, *, config: str | Path | None = None) -> list[str]:
    """Remove every container and SQLite file of environment ``name``; returns what was removed.

    Works from the running containers, so an environment since renamed or deleted in the config
    file can still be removed.  Nothing running and not declared → ConfigError (exit 2).
    """
    settings = settings_from(config)
    if not ENV_NAME.match(name):
        raise unknown_environment(name, settings)
    try:
        by_env = _servers_by_env()
    except DockerUnavailable:
        spec = settings.environments.get(name) or {}
        if any(isinstance(d, dict) and not is_embedded(d.get("engine", ""))
               for d in (spec.get("databases") or {}).values()):
            raise
        by_env = {}
    removed = []
    for server in by_env.get(name, []):
        if server.remove():  # not one another process removed meanwhile
            removed.append(server.name)
    folder = state_dir(name)
    if _existing(folder):
        removed.extend(_remove_folder(folder))
    if not removed and name not in settings.environments:
        raise unknown_environment(name, settings, running=list(by_env))
    return removed


@dataclass
class EnvironmentStatus:
    """What ``dkenv env ls`` shows for one environment."""

    name: str
    status: str  # up | partial | down
    declared: bool
    description: str = ""
    databases: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "declared": self.declared,
                "description": self.description, "databases": self.databases}


def list_environments(*, config: str | Path | None = None,
                      show_secrets: bool = False) -> list[EnvironmentStatus]:
    """Declared environments and any running ones, with each database's state and URL."""
    settings = settings_from(config)
    specs = environment_specs(settings)
    try:
        by_env: dict[str, list[Server]] | None = _servers_by_env()
    except DockerUnavailable:
        if any(not is_embedded(d.engine) for s in specs.values() for d in s.databases.values()):
            raise
        by_env = {}
    out = []
    for name in [*specs, *sorted(set(by_env or {}) - set(specs))]:
        spec = specs.get(name)
        servers = {parse_container_name(s.name)[1]: s for s in (by_env or {}).get(name, [])
                   if s.persistent}
        rows = []
        for db in (spec.databases if spec else servers):
            engine = spec.databases[db].engine if spec else servers[db].engine
            row: dict[str, Any] = {"name": db, "engine": engine, "status": "down", "url": None}
            if is_embedded(engine):
                folder = state_dir(name)
                file = folder / f"{db}.db"
                if _existing(folder) and file.is_file():
                    row.update(status="running", url=f"sqlite:///{file}", path=str(file))
            elif db in servers:
                s = servers[db].to_dict(show_secrets=show_secrets)
                row.update(status=s["status"], url=s["url"], container=s["container"],
                           container_name=s["name"], host=s["host"], port=s["port"],
                           expires=s["expires"])
            if spec:
                row["datakits"] = list(spec.databases[db].datakits)
            rows.append(row)
        running = sum(r["status"] == "running" for r in rows)
        status = "up" if running == len(rows) else "down" if running == 0 else "partial"
        out.append(EnvironmentStatus(name, status, spec is not None,
                                     spec.description if spec else "", rows))
    return out


__all__ = ["EnvironmentStatus", "container_name", "down", "list_environments", "parse_container_name",
           "refuse_if_up", "state_dir"]
