"""Waiting until a database answers ``SELECT 1``: a small policy object over tenacity.

Why a real query through the driver, from the host: it is the only signal that means what the
caller needs (this URL works now).  A log line says the server started inside the container,
not that the published port, the password and the database are usable; a TCP connect succeeds
as soon as Docker's port proxy listens, long before the server does.

Why polling starts at 20 ms and backs off in proportion to the time waited (10 %, capped at
250 ms): dkenv's own images answer within a few hundred milliseconds, so a 1 s poll interval
(testcontainers' default) would double the time to ready, while a failed attempt costs about a
millisecond on loopback.  A pause never longer than a tenth of the wait so far means a server
that is ready after t seconds is seen by 1.1 t (+ 20 ms) at worst, whether it takes 0.3 s
(dkenv's images) or 20 s (mysql:8 initialising), without hammering slow starters.

:class:`Readiness` takes its clock and sleep as arguments so that its timing is unit-tested
without Docker (``tests/unit/test_readiness.py``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type

from dkenv.docker import containers as C
from dkenv.engines import get_engine
from dkenv.errors import NotReady

T = TypeVar("T")

#: A login refused this long is a real failure, not a server still initialising.
AUTH_GRACE_S = 3.0
#: How often the readiness loop asks Docker whether the container is still running.
STATE_CHECK_S = 0.15


class ReadinessTimeout(Exception):
    """The probe kept failing with a "not yet" error until the deadline."""

    def __init__(self, elapsed: float, attempts: int, last_error: BaseException | None) -> None:
        detail = f"; last error: {first_line(last_error)}" if last_error else ""
        super().__init__(f"not ready after {elapsed:.1f} s ({attempts} attempts){detail}")
        self.elapsed = elapsed
        self.attempts = attempts
        self.last_error = last_error


@dataclass
class Readiness:
    """How long and how often to retry a probe, and which errors mean "not yet".

    Any other exception raised by the probe (the container exited, a wrong password after the
    grace period, KeyboardInterrupt) propagates at once: only ``not_yet`` errors are retried.
    """

    timeout: float = 60.0
    initial: float = 0.02
    proportion: float = 0.1
    max_interval: float = 0.25
    not_yet: tuple[type[BaseException], ...] = (OSError,)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    attempts: int = field(default=0, init=False)

    def interval(self, elapsed: float) -> float:
        """Pause after a failed attempt, ``elapsed`` seconds into the wait (before the deadline cap)."""
        return min(self.max_interval, max(self.initial, self.proportion * elapsed))

    def wait(self, probe: Callable[[float], T]) -> T:
        """Call ``probe(remaining_seconds)`` until it returns; raise :class:`ReadinessTimeout`."""
        start = self.clock()
        deadline = start + self.timeout
        self.attempts = 0

        def remaining() -> float:
            return max(0.0, deadline - self.clock())

        def attempt() -> T:
            self.attempts += 1
            return probe(remaining())

        def stop(state: RetryCallState) -> bool:
            return remaining() <= 0.0

        def pause(state: RetryCallState) -> float:
            return min(self.interval(self.clock() - start), remaining())

        retrying = Retrying(
            sleep=self.sleep,
            stop=stop,
            wait=pause,
            retry=retry_if_exception_type(self.not_yet),
            reraise=False,
        )
        try:
            return retrying(attempt)
        except RetryError as exc:
            last = exc.last_attempt.exception() if exc.last_attempt.failed else None
            raise ReadinessTimeout(self.clock() - start, self.attempts, last) from None


def first_line(exc: BaseException | None) -> str:
    """The driver's last error as one sentence (``MySQL error 2003: Can't connect…``)."""
    from dkenv.engines import describe_db_error

    return "" if exc is None else describe_db_error(exc)


# ---------------------------------------------------------------------------
# Attempts: one real connection and SELECT 1 each, by the engine (Engine.probe_ready)
# ---------------------------------------------------------------------------
def _connect_timeout(remaining: float) -> float:
    return max(1.0, min(5.0, remaining))


def probe_for(engine: str) -> Callable[..., None]:
    """The engine's readiness attempt (``Engine.probe_ready``), given the seconds left to wait."""
    rules = get_engine(engine)

    def probe(host: str, port: int, user: str, password: str, database: str, remaining: float) -> None:
        rules.probe_ready(host, port, user, password, database, _connect_timeout(remaining))

    return probe


def not_yet_errors(engine: str) -> tuple[type[BaseException], ...]:
    """Errors that mean "the server is not there yet": refused, reset, starting up, lost.

    Docker's port proxy accepts the TCP connection before the server listens and then drops
    it, so these show up as "server closed the connection" / "Lost connection" rather than
    "connection refused"; all are OperationalError in both drivers.
    """
    return get_engine(engine).not_ready_errors()


_AUTH_MARKERS = ("password authentication failed", "access denied", "does not exist",
                 "unknown database", "no pg_hba.conf entry")


def is_auth_error(exc: BaseException) -> bool:
    """A login the server *answered* and refused: the server is up, the credentials are wrong."""
    text = str(exc).lower()
    return any(marker in text for marker in _AUTH_MARKERS)


# ---------------------------------------------------------------------------
# A container's server
# ---------------------------------------------------------------------------
class _Exited(Exception):
    def __init__(self, state: dict) -> None:
        super().__init__(state.get("Status", "gone"))
        self.state = state


@contextmanager
def _remembered_interrupt() -> Iterator[threading.Event]:
    """An event set by Ctrl-C (SIGINT) while the readiness wait runs, beside the usual KeyboardInterrupt.

    Why: a driver may turn the KeyboardInterrupt raised inside its blocking connect into its own
    error (psycopg2 reports an interrupted connect as OperationalError, which means "not ready
    yet" here), and the wait would then go on until its timeout with Ctrl-C lost.  The event
    survives that, and the next attempt raises KeyboardInterrupt again.  Only where Python's
    own handler is in place, in the main thread; a program's own SIGINT handler is left alone.
    """
    interrupted = threading.Event()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield interrupted
        return

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def wait_for_server(client: Any, server: Any, timeout: float, state: dict | None = None) -> None:
    """Poll ``SELECT 1`` from the host; fail at once if the container stops running.

    Restart-after-init in the official images cannot fool this check: their temporary init
    server listens on the Unix socket only -- postgres runs it with ``pg_ctl -o "-c
    listen_addresses=''"``, mysql:8 with ``mysqld --daemonize --skip-networking`` and mariadb
    with ``--skip-networking`` (``docker_temp_server_start`` in docker-library's entrypoints) --
    so a TCP query from the host can only reach the final server, which starts after users and
    databases exist.  dkenv's own images apply credentials before their only server starts.
    """
    with _remembered_interrupt() as interrupted:
        # From here on a Ctrl-C cannot be lost, not even while the driver is first imported
        # (psycopg2's module set-up clears errors of its optional imports, a KeyboardInterrupt too).
        _wait_for_server(client, server, timeout, state, interrupted)
        if interrupted.is_set():
            raise KeyboardInterrupt


def _wait_for_server(client: Any, server: Any, timeout: float, state: dict | None,
                     interrupted: threading.Event) -> None:
    probe = probe_for(server.engine)
    readiness = Readiness(timeout=timeout, not_yet=not_yet_errors(server.engine))
    clock = readiness.clock
    checked = {"at": clock(), "auth": None}
    if state is not None and not state.get("Running", True):
        raise _not_ready_exited(client, server, state)

    def attempt(remaining: float) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        now = clock()
        if now - checked["at"] >= STATE_CHECK_S:
            checked["at"] = now
            current = C.state(client, server.container)
            if not current.get("Running"):
                raise _Exited(current)
        try:
            probe(server.host, server.port, server.user, server.password, server.database, remaining)
        except readiness.not_yet as exc:
            if is_auth_error(exc):
                checked["auth"] = checked["auth"] or now
                if now - checked["auth"] > AUTH_GRACE_S:
                    raise NotReady(f"{server.engine} in container {server.name} refuses the login: "
                                   f"{first_line(exc)}",
                                   "the image may not honour the official image's environment "
                                   "(POSTGRES_*/MYSQL_*); try another --image") from None
            raise

    try:
        readiness.wait(attempt)
    except _Exited as exc:
        raise _not_ready_exited(client, server, exc.state) from None
    except ReadinessTimeout as exc:
        logs = C.last_logs(client, server.container, 20)
        raise NotReady(
            f"{server.engine} in container {server.name} ({server.image}) was not ready after "
            f"{timeout:g} s; last error: {first_line(exc.last_error)}" + _indent(logs),
            "raise --timeout, or check the log above; the container has been removed",
        ) from None


def _not_ready_exited(client: Any, server: Any, state: dict) -> NotReady:
    logs = C.last_logs(client, server.container, 20)
    code = state.get("ExitCode", "?") if state else "?"
    return NotReady(
        f"container {server.name} ({server.image}) exited during startup with code {code}"
        + _indent(logs),
        "the image's entrypoint failed (see its log above); the container has been removed",
    )


def _indent(lines: list[str]) -> str:
    return "".join(f"\n    | {line}" for line in lines) if lines else "\n    (no log output)"
