"""Migrations as a source of truth: databases built by a datakit's Alembic history, and the
history checked against the models on every engine.

``source`` (where the history is, Alembic's ``Config``), ``failures`` (Alembic's errors as
dkenv's), ``run`` (upgrade/downgrade a target), ``compare`` (models vs database, both ways),
``check`` (``dkenv migrations check``).
"""

from __future__ import annotations

from dkenv.migrations.run import migrate_kits, migrate_target
from dkenv.migrations.source import History, history_of, require_alembic

__all__ = ["History", "history_of", "migrate_kits", "migrate_target", "require_alembic"]
