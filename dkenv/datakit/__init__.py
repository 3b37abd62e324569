"""Discovery: a datakit is a set of modules and the tables they declare.

:mod:`~dkenv.datakit.discovery` turns one path into a :class:`Datakit` (afresh on every
:func:`load_datakit`); :mod:`~dkenv.datakit.loader` is how every job loads datakits
(:func:`load_datakits`: each path imported once per process, ``requires`` first).
"""

from __future__ import annotations

from dkenv.datakit.discovery import (
    Datakit,
    discover_datakit_modules,
    discover_sqlmodel_classes,
    load_datakit,
    own_registry,
    pythonpath_from_env,
    set_default_pythonpath,
)
from dkenv.datakit.layout import SKIP_DIRS, SKIP_FILES
from dkenv.datakit.loader import datakit_of, forget_datakits, load_datakits
from dkenv.datakit.selection import Skipped

__all__ = [
    "SKIP_DIRS", "SKIP_FILES", "Datakit", "Skipped", "datakit_of", "discover_datakit_modules",
    "discover_sqlmodel_classes", "forget_datakits", "load_datakit", "load_datakits", "own_registry",
    "pythonpath_from_env", "set_default_pythonpath",
]
