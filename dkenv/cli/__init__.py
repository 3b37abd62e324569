"""The ``dkenv`` command (:mod:`dkenv.cli.main`): one module per group of commands, each thin —
it parses, calls one library function (a job in :mod:`dkenv.jobs` or a framework function) and
prints.  ``_common`` holds the error path (one sentence, an exit code, ``--json``), ``_stdout``
keeps stdout for results, ``_noise`` routes library warnings.
"""

from dkenv.cli.main import COMMANDS, LazyGroup, cli, main

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]
