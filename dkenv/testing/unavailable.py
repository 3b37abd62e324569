"""``dkenv_unavailable = skip``: no Docker engine means skipped container tests, not errors.

On a laptop without a container engine every PostgreSQL/MySQL test would error with the same
message; a team may prefer them skipped with one reason line (``no Docker engine: ...``) and
the SQLite tests still run.  The default stays ``error``: a CI job must not turn green by
skipping.  ``DKENV_REQUIRE_DOCKER=1`` (what dkenv's own ``make test`` sets) overrides ``skip``
for the same reason, so one variable in the CI environment is enough.
"""

from __future__ import annotations

import os

import pytest

from dkenv.errors import DkenvError, DockerUnavailable

#: The values of ``--dkenv-unavailable`` / ``dkenv_unavailable``.
CHOICES = ("error", "skip")
REQUIRE_ENV = "DKENV_REQUIRE_DOCKER"


def parse_unavailable(raw: object) -> str:
    """``error`` (default) or ``skip``; anything else is a usage error naming both."""
    value = str(raw or "error").strip().lower()
    if value not in CHOICES:
        raise pytest.UsageError(f"dkenv_unavailable / --dkenv-unavailable: {raw!r}; use error or skip")
    return value


def skip_if_unavailable(mode: str, engine: str, exc: DkenvError) -> None:
    """Skip the requesting tests when no Docker engine answers and ``mode`` is ``skip``.

    Returns (so the caller fails as usual) for any other error, in ``error`` mode, and when
    ``DKENV_REQUIRE_DOCKER=1`` forbids skipping — then the message says why it did not skip.
    """
    if mode != "skip" or not isinstance(exc, DockerUnavailable):
        return
    reason = f"no Docker engine: {exc.message}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({engine} tests may not skip: {REQUIRE_ENV}=1)", pytrace=False)
    pytest.skip(reason)


__all__ = ["CHOICES", "REQUIRE_ENV", "parse_unavailable", "skip_if_unavailable"]
