"""Connections dkenv keeps per database and lends to a test's first engine.

Opening a connection is the handshake a test's first query would otherwise pay; the
builders (:mod:`~dkenv.databases.postgres`, :mod:`~dkenv.databases.mysql`) open one per
database instead, lend it, and reset its session when it comes back.  The driver's
connection class gets a ``close()`` that only gives a lent connection back.
"""

from __future__ import annotations

import functools


@functools.cache
def lendable(base: type) -> type:
    """``base`` (a DBAPI connection class) whose ``close()`` hands a lent connection back to
    dkenv instead of closing it; ``really_close()`` closes it for good."""

    class LendableConnection(base):  # type: ignore[misc, valid-type]
        lent = False
        fresh = True  # its session as new: never lent since it was opened or reset
        set_up = False  # the dialect's on_connect ran on it (once is enough: see databases.isolated)

        def close(self) -> None:
            if self.lent:
                self.lent = False  # back with dkenv, which resets its session before lending it again
                return
            super().close()

        def really_close(self) -> None:
            self.lent = False
            try:
                super().close()
            except Exception:  # noqa: BLE001 - closed already, or the server is gone: drop the socket
                force = getattr(self, "_force_close", None)
                if force is not None:
                    force()

    LendableConnection.__qualname__ = f"Lendable{base.__name__}"
    return LendableConnection
