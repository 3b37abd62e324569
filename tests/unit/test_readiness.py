"""Readiness policy with a fake clock: no Docker, no sleeping."""

from __future__ import annotations

import pytest

from dkenv.docker.readiness import Readiness, ReadinessTimeout, is_auth_error
from dkenv.errors import UsageError
from dkenv.servers.lifecycle import parse_ttl


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make(clock: FakeClock, **kw) -> Readiness:
    return Readiness(clock=clock, sleep=clock.sleep, not_yet=(ConnectionError,), **kw)


def test_returns_as_soon_as_the_probe_succeeds() -> None:
    clock = FakeClock()
    calls = []

    def probe(remaining: float) -> str:
        calls.append(remaining)
        if len(calls) < 4:
            raise ConnectionError("refused")
        return "ok"

    r = make(clock, timeout=10)
    assert r.wait(probe) == "ok"
    assert r.attempts == 4
    assert len(clock.sleeps) == 3
    assert calls[0] == pytest.approx(10)


def test_starts_at_tens_of_milliseconds_and_backs_off_gently_to_a_cap() -> None:
    clock = FakeClock()

    def probe(remaining: float) -> None:
        raise ConnectionError("refused")

    r = make(clock, timeout=5)
    with pytest.raises(ReadinessTimeout):
        r.wait(probe)
    assert 0.01 <= clock.sleeps[0] <= 0.03
    assert clock.sleeps[:-1] == sorted(clock.sleeps[:-1])  # never faster again (last: deadline cap)
    waited = 0.0
    for pause in clock.sleeps:
        # Never more than a tenth of the wait so far (or the 20 ms floor): a server ready after
        # t seconds is seen by 1.1 t + 20 ms at worst.
        assert pause <= max(0.02, 0.1 * waited) + 1e-9
        waited += pause
    assert max(clock.sleeps) == pytest.approx(0.25)  # the cap, for slow starters
    in_first_second = sum(1 for i in range(len(clock.sleeps)) if sum(clock.sleeps[:i + 1]) <= 1.0)
    assert in_first_second >= 10


def test_timeout_carries_the_last_error_and_never_sleeps_past_the_deadline() -> None:
    clock = FakeClock()
    n = 0

    def probe(remaining: float) -> None:
        nonlocal n
        n += 1
        raise ConnectionError(f"refused #{n}")

    r = make(clock, timeout=2.0)
    with pytest.raises(ReadinessTimeout) as info:
        r.wait(probe)
    assert clock.now - 100.0 == pytest.approx(2.0)
    assert info.value.attempts == n
    assert str(info.value.last_error) == f"refused #{n}"
    assert "not ready after 2.0 s" in str(info.value)


def test_other_errors_propagate_at_once() -> None:
    clock = FakeClock()

    class Exited(Exception):
        pass

    calls = 0

    def probe(remaining: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Exited("container exited")
        raise ConnectionError("refused")

    with pytest.raises(Exited):
        make(clock, timeout=60).wait(probe)
    assert calls == 3
    assert clock.now - 100.0 < 0.1


def test_keyboard_interrupt_is_not_retried() -> None:
    clock = FakeClock()

    def probe(remaining: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        make(clock, timeout=60).wait(probe)
    assert clock.sleeps == []


def test_remaining_time_is_passed_to_the_probe() -> None:
    clock = FakeClock()
    seen: list[float] = []

    def probe(remaining: float) -> None:
        seen.append(remaining)
        if len(seen) < 3:
            raise ConnectionError
        return None

    make(clock, timeout=1.0).wait(probe)
    assert seen == sorted(seen, reverse=True)
    assert all(0 < s <= 1.0 for s in seen)


def test_auth_errors_are_recognised() -> None:
    assert is_auth_error(Exception('FATAL:  password authentication failed for user "x"'))
    assert is_auth_error(Exception("(1045, \"Access denied for user 'root'@'172.17.0.1'\")"))
    assert not is_auth_error(Exception("server closed the connection unexpectedly"))


@pytest.mark.parametrize(("text", "seconds"), [
    (None, 0), ("", 0), (0, 0), (90, 90), ("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200),
    ("1d", 86400), ("1h30m", 5400), (1.5, 2),
])
def test_parse_ttl(text, seconds) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["soon", "10x", "-5", "1h-"])
def test_parse_ttl_rejects_nonsense(text) -> None:
    with pytest.raises(UsageError):
        parse_ttl(text)


# ---------------------------------------------------------------------------
# Pure decisions next to readiness: where ports are published, when to reap
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("base_url", "remote", "host", "publish", "exposed"), [
    ("unix:///var/run/docker.sock", False, "127.0.0.1", "127.0.0.1", False),
    ("tcp://127.0.0.2:2375", True, "127.0.0.2", "127.0.0.2", False),
    ("tcp://db-engine.example:2376", True, "db-engine.example", "0.0.0.0", True),
    ("ssh://ci@10.1.2.3", True, "10.1.2.3", "0.0.0.0", True),
])
def test_endpoint_host_and_publish_address(monkeypatch, base_url, remote, host, publish, exposed) -> None:
    from dkenv.docker.client import Endpoint

    monkeypatch.delenv("DKENV_PUBLISH_HOST", raising=False)
    ep = Endpoint(base_url)
    assert (ep.remote, ep.host, ep.publish_host, ep.exposes_beyond_loopback) == (
        remote, host, publish, exposed)


def test_docker_host_wins_over_contexts(monkeypatch) -> None:
    from dkenv.docker.client import resolve_endpoint

    env = {"DOCKER_HOST": "tcp://127.0.0.2:2375", "DOCKER_CONTEXT": "nonexistent"}
    assert resolve_endpoint(env).base_url == "tcp://127.0.0.2:2375"


def test_unknown_docker_context_is_reported(monkeypatch, tmp_path) -> None:
    from dkenv.docker.client import resolve_endpoint
    from dkenv.errors import DockerUnavailable

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    with pytest.raises(DockerUnavailable, match="context 'nope'"):
        resolve_endpoint({"DOCKER_CONTEXT": "nope"})


def test_a_docker_context_endpoint_is_used(monkeypatch, tmp_path) -> None:
    from docker.context import ContextAPI

    from dkenv.docker.client import resolve_endpoint

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    # The SDK keeps contexts next to the config file, so the file must exist first.
    (tmp_path / "config.json").write_text('{"currentContext": "remote-test"}')
    ContextAPI.create_context("remote-test", host="tcp://127.0.0.2:2375", skip_tls_verify=True)
    assert (tmp_path / "contexts").is_dir()
    ep = resolve_endpoint({})  # the SDK stores tcp:// as http://
    assert (ep.context, ep.host, ep.remote) == ("remote-test", "127.0.0.2", True)
    assert ep.base_url.endswith("://127.0.0.2:2375")


def test_reap_reasons() -> None:
    import os

    from dkenv.docker import labels as L
    from dkenv.docker.reaper import abandoned_reason

    def labels(**kw):
        base = L.build(name="n", engine="postgres", user="u", database="d", container_port=5432,
                       ttl=0, persistent=False, digest="x", now=1000.0)
        base.update({k.replace("_", "."): str(v) for k, v in kw.items()})
        return base

    host = L.this_host()
    assert abandoned_reason(labels(), now=2000, host=host) is None  # we are alive
    assert "time-to-live" in abandoned_reason(labels(dkenv_ttl=60), now=1061, host=host)
    assert abandoned_reason(labels(dkenv_ttl=60), now=1059, host=host) is None
    dead = labels(**{"dkenv_owner_pid": 2**22 + 7})  # above any pid_max default
    assert "owner process" in abandoned_reason(dead, now=2000, host=host)
    assert abandoned_reason(dead, now=2000, host="another-host") is None  # not ours to judge
    recycled = labels(**{"dkenv_owner_start": "1"})  # our pid, another start time
    assert recycled[L.OWNER_PID] == str(os.getpid())
    assert abandoned_reason(recycled, now=2000, host=host) is not None
    persistent = L.build(name="n", engine="postgres", user="u", database="d", container_port=5432,
                         ttl=0, persistent=True, digest="x", now=1000.0)
    assert abandoned_reason(persistent, now=10**9, host=host) is None


def test_ctrl_c_swallowed_while_the_driver_is_imported_still_stops_the_wait(monkeypatch) -> None:
    """psycopg2's first import can clear a KeyboardInterrupt raised inside it (seen: 7 of 30
    SIGINTs sent during ``import psycopg2`` were lost).  The readiness wait remembers Ctrl-C
    from its first line, so the wait stops before any probe instead of running to its timeout."""
    import signal
    from types import SimpleNamespace

    from dkenv.docker import readiness

    probes: list[float] = []

    def import_that_swallows(engine: str) -> tuple[type[BaseException], ...]:
        try:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, delivered while "importing"
        except KeyboardInterrupt:
            pass  # what the driver's module set-up does to it
        return (ConnectionError,)

    def never_ready(*args: object) -> None:
        probes.append(args[-1])
        raise ConnectionError("refused")

    monkeypatch.setattr(readiness, "not_yet_errors", import_that_swallows)
    monkeypatch.setattr(readiness, "probe_for", lambda engine: never_ready)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        server = SimpleNamespace(engine="postgres", host="127.0.0.1", port=1, user="u", password="p",
                                 database="d", container="c", name="n", image="i")
        with pytest.raises(KeyboardInterrupt):
            readiness.wait_for_server(None, server, timeout=30.0)
        assert probes == []
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back
    finally:
        signal.signal(signal.SIGINT, previous)
