"""Layer 3 ephemeral environments: named sets of databases, each with datakits deployed in order.

- :mod:`~dkenv.environments.specs`: the declarations in ``dkenv.toml`` (read and checked,
  nothing started);
- :mod:`~dkenv.environments.running`: bringing one up (``environment(...)``, ``env up``) and
  undoing it on failure;
- :mod:`~dkenv.environments.state`: what runs (``env ls``), removing it (``env down``), names.
"""

from dkenv.environments.running import Database, Environment, environment, up
from dkenv.environments.specs import (
    DatabaseSpec,
    EnvironmentSpec,
    environment_spec,
    environment_specs,
)
from dkenv.environments.state import (
    EnvironmentStatus,
    container_name,
    down,
    list_environments,
    parse_container_name,
    state_dir,
)

__all__ = [
    "Database", "DatabaseSpec", "Environment", "EnvironmentSpec", "EnvironmentStatus",
    "container_name", "down", "environment", "environment_spec", "environment_specs",
    "list_environments", "parse_container_name", "state_dir", "up",
]
