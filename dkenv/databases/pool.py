"""A bounded pool of ready databases, built ahead of demand and dropped (or recycled) behind it.

Building a database (a template copy, a DDL replay, a file copy) is the slow part of a
hand-out, so a builder thread keeps ``ready`` databases waiting and returner threads deal
with returned ones; a request only pops a name.  A builder that can *recycle* (MySQL: reset
a returned database whose schema is unchanged) gets its databases back into the pool
instead of building new ones; anything it cannot recycle is dropped.  With a *warmer*, those
threads also connect to each database before it joins the ready queue (a test's first query
then needs no handshake); what nobody claimed is closed before its database is dropped.  The
threads are daemons owned by the pool; :meth:`Pool.close` stops them and drops everything the
pool holds.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol


class Builder(Protocol):
    """What differs per engine: how to build, drop and describe one isolated database.

    A builder may also define ``recycle(name) -> bool``: make a returned database pristine
    again and say so, or return False to have it dropped.
    """

    engine: str

    def prepare(self) -> None:
        """One-time work (template, captured DDL); reused across pools where possible."""

    def create(self, name: str) -> None: ...

    def drop(self, name: str) -> None: ...

    def url(self, name: str) -> str: ...

    def schema_map(self, name: str) -> dict[str, str]: ...

    def close(self) -> None: ...


class Warmer(Protocol):
    """Opens what a test's first query needs (an engine holding a live connection) off its path."""

    def open(self, name: str) -> Any: ...

    def close(self, warm: Any) -> None: ...


_STOP = None


class Pool:
    """Ready databases for one datakit set on one server."""

    def __init__(self, builder: Builder, new_name: Callable[[], str], *, ready: int = 3,
                 returners: int = 3, warmer: Warmer | None = None, fill_first: bool = False) -> None:
        self.builder = builder
        self._warmer = warmer
        self._warm: dict[str, Any] = {}  # ready database -> its live connection (what warmer.open gave)
        self.ready_target = max(0, ready)
        self._new_name = new_name
        self._recycles = callable(getattr(builder, "recycle", None)) and self.ready_target > 0
        self._fill_first = fill_first  # the first take() waits until ready_target are built
        self._ready: deque[str] = deque()
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # takers and wait_for_drops wait here
        # The builder waits on a condition of its own, woken only when it has something to do:
        # waking it at every hand-out and return cost the test's thread interpreter-lock hand-overs.
        self._builds = threading.Condition(lock)
        self._building = 0
        self._recycling = 0
        self._out = 0  # handed out and not given back yet: a recycling pool gets them back
        self._abandoned = False  # the server goes with everything on it: nothing is dropped
        self._waiting = 0  # take() calls waiting with nothing ready
        self._error: BaseException | None = None
        self._closed = False
        self._prepared = False
        self._prepare_lock = threading.Lock()
        self._builder_thread: threading.Thread | None = None
        self._returns: queue.Queue[tuple[str, bool] | None] = queue.Queue()
        self._returner_count = max(0, returners)  # 0: returned databases are dropped by the caller
        self._returners: list[threading.Thread] = []
        self._unfinished = 0
        self.cold_start_s: float | None = None
        self.recycled = 0

    # -- lifecycle ------------------------------------------------------------
    def warm(self) -> None:
        """Prepare (template or DDL) now and start filling; raises what preparing raises."""
        with self._prepare_lock:
            if self._prepared:
                return
            started = time.perf_counter()
            self.builder.prepare()
            self.cold_start_s = time.perf_counter() - started
            self._prepared = True
        self._start_threads()

    def _start_threads(self) -> None:
        with self._cond:
            if self._closed:
                return
            if self.ready_target and (self._builder_thread is None or not self._builder_thread.is_alive()):
                self._builder_thread = threading.Thread(target=self._fill, name="dkenv-pool-builder",
                                                        daemon=True)
                self._builder_thread.start()
            if not self._returners and self._returner_count:
                # Recycling and dropping wait on the server; two at a time double the pace.
                self._returners = [threading.Thread(target=self._return_loop, name=f"dkenv-pool-returner-{i}",
                                                    daemon=True) for i in range(self._returner_count)]
                for thread in self._returners:
                    thread.start()

    def take(self, timeout: float = 300.0) -> str:
        """The name of a ready database, waiting for the builder if none is ready."""
        self.warm()
        if not self.ready_target:
            name = self._new_name()
            try:
                self.builder.create(name)
            except BaseException:
                self._quiet_drop(name)
                raise
            return name
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._ready) < (self.ready_target if self._fill_first else 1):
                if self._error is not None and self._ready:
                    break  # the fill failed past the first: hand that one out (the error waits)
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                if self._closed:
                    raise RuntimeError("the database pool is closed")
                if self._builder_thread is None or not self._builder_thread.is_alive():
                    self._start_threads()  # after an error the builder stopped: try again
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no isolated {self.builder.engine} database ready after {timeout:.0f} s")
                self._waiting += 1
                self._wake_builder()  # demand beyond what is on its way: the builder builds
                try:
                    self._cond.wait(min(left, 1.0))
                finally:
                    self._waiting -= 1
            self._fill_first = False
            name = self._ready.popleft()
            self._out += 1
            self._wake_builder()  # the builder refills, if it should
            return name

    def claim_warm(self, name: str) -> Any:
        """What the warmer opened for ``name`` when it became ready (None if nothing); the caller owns it."""
        with self._cond:
            return self._warm.pop(name, None)

    def warm_opener(self, name: str) -> Callable[[], Any] | None:
        """For a ``lazy`` warmer: what opens ``name``'s warm engine in the caller's thread."""
        warmer = self._warmer
        if warmer is None or not getattr(warmer, "lazy", False):
            return None
        return lambda: warmer.open(name)

    def give_back(self, name: str) -> None:
        """Recycle or drop ``name`` off the critical path (at once when the pool is closing)."""
        with self._cond:
            self._out = max(0, self._out - 1)
            queued = not self._closed and bool(self._returners)
            if queued:
                self._queue(name, recycle=self._recycles)
            else:
                self._wake_builder()
        if not queued:
            self._quiet_drop(name)

    def keep_out(self, name: str) -> None:
        """``name`` is kept by its user (``keep``): it will not come back to be recycled."""
        with self._cond:
            self._out = max(0, self._out - 1)
            self._wake_builder()

    def abandon(self) -> None:
        """The server is about to be removed with its databases: from now on databases are
        only disconnected, never dropped (a DROP DATABASE each would only delay the removal)."""
        with self._cond:
            self._abandoned = True

    def close(self, timeout: float = 60.0) -> None:
        """Stop building, drop the ready databases, finish pending returns.  Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
            self._builds.notify_all()
        deadline = time.monotonic() + timeout
        if self._builder_thread is not None:
            self._builder_thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            leftovers = list(self._ready)
            self._ready.clear()
            if self._returners:
                for name in leftovers:
                    self._queue(name, recycle=False)
                for _ in self._returners:
                    self._returns.put(_STOP)  # after everything queued: finish those, then stop
        if not self._returners:
            for name in leftovers:
                self._quiet_drop(name)
            return
        for thread in self._returners:
            thread.join(max(0.0, deadline - time.monotonic()))

    def wait_for_drops(self, timeout: float = 60.0) -> bool:
        """Block until every returned database is dropped or recycled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._unfinished:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    # -- threads ----------------------------------------------------------------
    def _short(self) -> bool:
        """Whether to build one more database (called holding the lock).

        A database being recycled counts as on its way, and so, in a pool that recycles, does
        one handed out: it comes back when its test ends.  Building ahead of that would leave
        the pool full when it does, and a recycled database would be dropped for a new one
        (a CREATE and a DROP DATABASE per test).  A request waiting with nothing ready still
        gets a build: the pool grows as fast as demand, no faster.
        """
        coming = len(self._ready) + self._building + self._recycling
        if coming < self.ready_target and (not self._recycles or coming + self._out < self.ready_target):
            return True
        return self._waiting > coming

    def _wake_builder(self) -> None:
        """Wake the builder if it has something to do (called holding the lock)."""
        if self._closed or self._error is not None or self._short():
            self._builds.notify()

    def _fill(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._error is None and not self._short():
                    self._builds.wait()
                if self._closed or self._error is not None:
                    return
                self._building += 1
            name = self._new_name()
            try:
                self.builder.create(name)
            except BaseException as exc:  # noqa: BLE001 - handed to the next take()
                self._quiet_drop(name)
                with self._cond:
                    self._building -= 1
                    if not self._closed:
                        self._error = exc
                    self._cond.notify_all()
                return
            self._open_warm(name)
            with self._cond:
                self._building -= 1
                if self._closed:
                    self._queue(name, recycle=False)
                else:
                    self._ready.append(name)
                self._cond.notify_all()

    def _queue(self, name: str, *, recycle: bool) -> None:
        with self._cond:  # re-entrant with callers holding it: puts are ordered with close()
            self._unfinished += 1
            if recycle:
                self._recycling += 1
            self._returns.put((name, recycle))

    def _return_loop(self) -> None:
        while True:
            item = self._returns.get()
            if item is _STOP:
                return
            name, recycle = item
            reused = recycle and not self._closed and self._try_recycle(name)
            if reused:
                self._open_warm(name)
            with self._cond:
                if recycle:
                    self._recycling -= 1
                if reused and not self._closed and len(self._ready) < self.ready_target:
                    self._ready.append(name)
                    self.recycled += 1
                    reused_now = True
                else:
                    reused_now = False
                self._cond.notify_all()  # a taker may wait for it
                self._wake_builder()  # one less on its way: maybe one to build
            if not reused_now:
                self._quiet_drop(name)
            with self._cond:
                self._unfinished -= 1
                self._cond.notify_all()

    def _try_recycle(self, name: str) -> bool:
        try:
            return bool(self.builder.recycle(name))  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - anything odd: drop it and build a fresh one
            return False

    def _open_warm(self, name: str) -> None:
        """Connect to a database about to be ready, so its first query needs no handshake."""
        if self._warmer is None or getattr(self._warmer, "lazy", False):
            return
        try:
            warm = self._warmer.open(name)
        except Exception:  # noqa: BLE001 - no warm connection: the test connects itself (and sees why)
            return
        with self._cond:
            self._warm[name] = warm

    def _close_warm(self, name: str) -> None:
        with self._cond:
            warm = self._warm.pop(name, None)
        if warm is not None and self._warmer is not None:
            try:
                self._warmer.close(warm)
            except Exception:  # noqa: BLE001 - a gone server has closed it already
                pass

    def _quiet_drop(self, name: str) -> None:
        self._close_warm(name)  # closed before DROP DATABASE: nothing of ours holds it open
        if self._abandoned:
            return
        try:
            self.builder.drop(name)
        except Exception:  # noqa: BLE001 - a gone server has nothing left to drop
            pass
