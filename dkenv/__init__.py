"""dkenv: deploy datakits to disposable databases and prove they work.

The public API is importable from here; heavy modules (SQLAlchemy, the Docker SDK) load
on first use so that ``import dkenv`` and ``dkenv --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from dkenv import hooks as _hooks

__version__ = "0.1.0"

_EXPORTS = {
    # datakit discovery
    "Datakit": "dkenv.datakit",
    "load_datakit": "dkenv.datakit",
    "discover_datakit_modules": "dkenv.datakit",
    "discover_sqlmodel_classes": "dkenv.datakit",
    # deploy / validate / cleanup
    "deploy_data_objects": "dkenv.deploy",
    "deploy_datakits": "dkenv.deploy",
    "DeployResult": "dkenv.results",
    "cleanup_test_target": "dkenv.deploy.deployed",
    "create_engine_for_target": "dkenv.deploy.deployed",
    "validate_deployment": "dkenv.deploy.deployed",
    "validate_pipeline_flow": "dkenv.deploy.deployed",
    "ValidationResult": "dkenv.results",
    "Problem": "dkenv.problems",
    # targets
    "Target": "dkenv.config",
    "get_target_config": "dkenv.config",
    "create_custom_target": "dkenv.config",
    "get_ci_target": "dkenv.config",
    "get_development_target": "dkenv.config",
    "get_integration_target": "dkenv.config",
    "resolve_target": "dkenv.config",
    # containers
    "ephemeral": "dkenv.servers.lifecycle",
    "Server": "dkenv.servers.lifecycle",
    "environment": "dkenv.environments",
    "Environment": "dkenv.environments",
    "DatabaseFactory": "dkenv.databases",
    "IsolatedDatabase": "dkenv.databases",
    "SqliteServer": "dkenv.databases.sqlite_server",
    # errors
    "DkenvError": "dkenv.errors",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


# -- wiring: what a lower layer calls in a higher one (see dkenv/hooks.py, docs/architecture.md)
def _hand_out_database(server: Any, datakits: Any = None, **kw: Any) -> Any:
    """``server.database(datakits=[...])`` of a container server."""
    from dkenv.databases.factory import server_database

    return server_database(server, datakits=datakits, **kw)


def _snapshot_database(server: Any, db: Any, name: str, **kw: Any) -> Any:
    """``server.snapshot(db, NAME)`` of a container server."""
    from dkenv.databases.factory import server_snapshot

    return server_snapshot(server, db, name, **kw)


def _start_local_server(engine: str, **kw: Any) -> Any:
    """``dkenv.ephemeral("sqlite")``: no container, a directory with a server's surface."""
    from dkenv.databases.sqlite_server import SqliteServer

    return SqliteServer(**kw)


_hooks.provide("hand_out_database", _hand_out_database)
_hooks.provide("start_local_server", _start_local_server)
_hooks.provide("snapshot_database", _snapshot_database)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dkenv' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
