"""What differs between SQLite, PostgreSQL and MySQL: URLs, images, schemas, defaults.

Everything engine-specific lives behind :class:`~dkenv.engines.base.Engine` so that the
deployer, the validator and the container lifecycle never branch on engine names.
"""

from dkenv.engines.base import Engine
from dkenv.engines.messages import describe_db_error
from dkenv.engines.mysql import MYSQL
from dkenv.engines.postgres import POSTGRES
from dkenv.engines.registry import (
    ENGINE_ALIASES,
    ENGINES,
    SERVER_ENGINES,
    engine_for_dialect,
    get_engine,
    is_embedded,
    rules_for_dialect,
)
from dkenv.engines.sqlite import SQLITE

__all__ = [
    "ENGINES", "ENGINE_ALIASES", "MYSQL", "POSTGRES", "SERVER_ENGINES", "SQLITE", "Engine", "describe_db_error",
    "engine_for_dialect", "get_engine", "is_embedded", "rules_for_dialect",
]
