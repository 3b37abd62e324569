"""dkenv for users' own tests: the pytest plugin and its fixture factories, and helpers any test
runner can call.

- :mod:`~dkenv.testing.plugin`: the pytest plugin (registered as :mod:`dkenv.pytest_plugin`);
- :mod:`~dkenv.testing.factories`: ``server_fixture``, ``database_fixture`` for a conftest;
- :mod:`~dkenv.testing.sessions`: ``dkenv_connection``, ``dkenv_session``, ``dkenv_async_engine``;
- :mod:`~dkenv.testing.isolation`, :mod:`~dkenv.testing.unavailable`,
  :mod:`~dkenv.testing.recovery`, :mod:`~dkenv.testing.xdist`: transactional isolation, skip
  mode, servers that go away, one server per xdist run;
- :mod:`~dkenv.testing.migrations`: ``migrations_check`` (no pytest needed).

Names are exported lazily: ``from dkenv.testing import migrations_check`` does not import pytest.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "migrations_check": "dkenv.testing.migrations",
    "database_fixture": "dkenv.testing.factories",
    "server_fixture": "dkenv.testing.factories",
    "assert_valid": "dkenv.testing.plugin",
    "format_problems": "dkenv.testing.plugin",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dkenv.testing' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
