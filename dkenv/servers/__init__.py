"""Database servers as dkenv runs them, and the live connection behind a target.

- :mod:`~dkenv.servers.server`: a running server as dkenv holds it (:class:`Server`) and the
  servers this process owns, removed at exit or on SIGTERM/SIGHUP;
- :mod:`~dkenv.servers.lifecycle`: start (or reuse) a server, wait until it is ready, follow a
  restarted container (``refresh``), reap abandoned ones; ``ephemeral``;
- :mod:`~dkenv.servers.runtime`: live state behind a target (its SQLAlchemy engine, temp files,
  the server of a ``*_container`` target);
- :mod:`~dkenv.servers.inventory`: dkenv's servers as any process sees them (``dkenv ls``/``down``).

Import the submodule you need: this package imports none of them, so a SQLite-only job that needs
:mod:`~dkenv.servers.runtime` does not load the container lifecycle.
"""
