"""``dkenv.pytest_plugin``: the name pytest's ``pytest11`` entry point and ``-p dkenv.pytest_plugin``
know. The plugin lives in :mod:`dkenv.testing.plugin`; this module only re-exports its hooks,
fixtures and helpers, so one module object is registered whichever way pytest finds it.
"""

from dkenv.testing.plugin import *  # noqa: F403
from dkenv.testing.plugin import __all__  # noqa: F401
