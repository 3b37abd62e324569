"""dkenv's errors: one base class, subclasses that carry what went wrong and the fix.

The CLI turns any :class:`DkenvError` into one or two plain lines on stderr and the
exit code fixed by the product contract; library users catch them as usual.
"""

from __future__ import annotations

#: Exit codes fixed by PRODUCT.md.
EXIT_OK = 0
EXIT_FAILED = 1  # the datakit failed to deploy or validate
EXIT_USAGE = 2  # bad usage or bad input (path, target name, flag)
EXIT_ENVIRONMENT = 3  # no Docker engine, image unavailable, not ready, connection refused


class DkenvError(Exception):
    """Base class. ``message`` says what and where; ``hint`` says what to do next."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(DkenvError):
    """Bad input: a path, a target name, a flag value, a config file."""

    exit_code = EXIT_USAGE


class DatakitError(UsageError):
    """A datakit cannot be discovered: missing path, import error, no tables, duplicates."""


class ConfigError(UsageError):
    """A malformed config file or an unknown target/environment name."""


class DeployError(DkenvError):
    """The datakit did not deploy (DDL failed, a foreign key points nowhere, ...)."""

    exit_code = EXIT_FAILED


class EnvironmentFailure(DkenvError):
    """The environment failed: Docker engine, image, readiness, connection."""

    exit_code = EXIT_ENVIRONMENT


class ConnectionFailed(EnvironmentFailure):
    """A database server could not be reached or refused the login."""


class DockerUnavailable(EnvironmentFailure):
    """No Docker engine answers."""


class ImageUnavailable(EnvironmentFailure):
    """An image is neither present nor pullable, or failed to build."""


class NotReady(EnvironmentFailure):
    """A database container did not become ready (exited, or timed out)."""


class MissingPackage(EnvironmentFailure):
    """A Python package an optional feature needs is not installed (an async driver, greenlet)."""
