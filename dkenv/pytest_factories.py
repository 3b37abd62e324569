"""``dkenv.pytest_factories``: where earlier releases documented ``server_fixture`` and
``database_fixture``; they live in :mod:`dkenv.testing.factories` (``from dkenv.testing import
server_fixture, database_fixture``). Kept so existing conftests keep working.
"""

from dkenv.testing.factories import database_fixture, server_fixture

__all__ = ["database_fixture", "server_fixture"]
