"""Settings and targets.

A :class:`Target` says where a datakit goes.  Targets come from four places, and for every
field the first that sets it wins: a CLI flag > a ``DKENV_*`` environment variable > the
config file (``dkenv.toml``, or ``[tool.dkenv]`` in ``pyproject.toml``) > the built-in default.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dkenv.engines import get_engine, is_embedded
from dkenv.errors import ConfigError, UsageError

#: How a target gets its database.
KINDS = ("memory", "file", "container", "local", "url", "custom")


@dataclass
class Target:
    """Where datakits are deployed.  Supports ``target["db_type"]`` as well as attributes."""

    name: str
    db_type: str  # "sqlite" | "postgres" | "mysql"
    kind: str = "custom"
    database: str | None = None
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    url: str | None = None
    image: str | None = None
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.db_type = get_engine(self.db_type).name
        if self.port is not None:
            self.port = parse_port(self.port, where=f"target {self.name!r}")

    # Mapping-style access, as the framework's dict configs allowed.
    def __getitem__(self, key: str) -> Any:
        data = self.to_dict()
        if key not in data:
            raise KeyError(key)
        return data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __hash__(self) -> int:  # targets are keys of the runtime registry (by identity)
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def to_dict(self, *, show_secrets: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.db_type
        if not show_secrets and data.get("password"):
            data["password"] = "***"
        return data

    @property
    def engine(self):
        return get_engine(self.db_type)

    @property
    def is_container(self) -> bool:
        return self.kind == "container"

    def with_overrides(self, **fields: Any) -> Target:
        """A copy with the given non-None fields replaced."""
        changes = {k: v for k, v in fields.items() if v is not None}
        return replace(self, **changes) if changes else replace(self)


def parse_port(value: Any, *, where: str = "--port") -> int:
    """A TCP port 1..65535, or a UsageError naming where the bad value came from."""
    try:
        port = int(str(value).strip())
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {value!r} is not a port number", "use a number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"{where}: port {port} is out of range", "use a number from 1 to 65535")
    return port


# ---------------------------------------------------------------------------
# Built-in targets
# ---------------------------------------------------------------------------
def _postgres_local() -> Target:
    """The server ``psql`` reaches with this environment: libpq's defaults where PG* are unset."""
    from dkenv.engines.local import os_user, pg_socket_dir

    env = os.environ
    port = int(env["PGPORT"]) if env.get("PGPORT", "").isdigit() else None
    user = env.get("PGUSER") or os_user()
    return Target(
        name="postgres_local",
        db_type="postgres",
        kind="local",
        host=env.get("PGHOST") or pg_socket_dir(port),
        port=port,
        user=user,
        password=env.get("PGPASSWORD") or None,
        database=env.get("PGDATABASE") or user,
        description="an existing local PostgreSQL server, as psql reaches it (PGHOST, PGPORT, "
                    "PGUSER, PGPASSWORD, PGDATABASE; else the Unix socket, as the OS user)",
    )


def _mysql_local() -> Target:
    """The server ``mysql`` reaches: MYSQL_HOST/MYSQL_PORT over TCP, else the client's socket."""
    from dkenv.engines.local import mysql_socket, os_user

    env = os.environ
    port = int(env["MYSQL_PORT"]) if env.get("MYSQL_PORT", "").isdigit() else None
    host = env.get("MYSQL_HOST") or ("127.0.0.1" if port else mysql_socket() or "127.0.0.1")
    return Target(
        name="mysql_local",
        db_type="mysql",
        kind="local",
        host=host,
        port=None if host.startswith("/") else (port or 3306),
        user=env.get("MYSQL_USER") or os_user(),
        password=env.get("MYSQL_PASSWORD") or None,
        database=env.get("MYSQL_DATABASE") or "test_db",
        description="an existing MySQL server, as the mysql client reaches it (MYSQL_HOST, "
                    "MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD, MYSQL_DATABASE; else the socket "
                    "($MYSQL_UNIX_PORT), as the OS user)",
    )


def builtin_targets() -> dict[str, Target]:
    """The predefined targets, built fresh (the local ones read the environment now)."""
    targets = [
        Target("sqlite_memory", "sqlite", kind="memory", database=":memory:",
               description="in-memory SQLite; the default; no Docker"),
        Target("sqlite_file", "sqlite", kind="file",
               description="SQLite file in a fresh temp directory, removed on cleanup"),
        Target("postgres_container", "postgres", kind="container",
               description="a throwaway PostgreSQL container, removed afterwards"),
        _postgres_local(),
        Target("mysql_container", "mysql", kind="container",
               description="a throwaway MySQL container, removed afterwards"),
        _mysql_local(),
    ]
    return {t.name: t for t in targets}


# ---------------------------------------------------------------------------
# Config file
# ---------------------------------------------------------------------------
@dataclass
class Settings:
    """What the config file says (empty when there is none)."""

    path: Path | None = None
    default_target: str | None = None
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


_LINE = re.compile(r"at line (\d+)")


def find_config_file(start: Path | None = None) -> Path | None:
    """``$DKENV_CONFIG``, else ``dkenv.toml`` or a ``pyproject.toml`` with ``[tool.dkenv]`` in cwd."""
    explicit = os.environ.get("DKENV_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"DKENV_CONFIG points to {path}, which is not a file")
        return path
    base = start or Path.cwd()
    candidate = base / "dkenv.toml"
    if candidate.is_file():
        return candidate
    pyproject = base / "pyproject.toml"
    if pyproject.is_file():
        try:
            text = pyproject.read_text(encoding="utf-8")
        except OSError:
            return None
        if re.search(r"^\s*\[tool\.dkenv[\].]", text, re.MULTILINE):
            return pyproject
    return None


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file (or none).  A syntax error names the file and line."""
    path = path or find_config_file()
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = _LINE.search(str(exc))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError(f"{where}: malformed config file: {exc}", "fix the TOML syntax at that line") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("dkenv", {})
    return _settings_from(data, path)


def _settings_from(data: Mapping[str, Any], path: Path) -> Settings:
    def table(key: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: '{key}' must be a table ([{key}.NAME])")
        return value

    targets = table("targets")
    for name, spec in targets.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: [targets.{name}] must be a table")
        if "type" not in spec and "url" not in spec:
            raise ConfigError(f"{path}: [targets.{name}] needs 'type' (sqlite, postgres, mysql) or 'url'")
    default = data.get("default_target")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: default_target must be a string")
    return Settings(
        path=path,
        default_target=default,
        targets=targets,
        images={k: str(v) for k, v in table("images").items()},
        environments=table("environments"),
        raw=dict(data),
    )


def target_from_spec(name: str, spec: Mapping[str, Any], *, where: str) -> Target:
    """Build a target from a config table (``type``/``url``/``host``/...)."""
    known = {"type", "url", "database", "host", "port", "user", "password", "image", "description", "kind"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} in target {name!r}",
                          f"allowed keys: {', '.join(sorted(known))}")
    url = spec.get("url")
    db_type = spec.get("type") or (db_type_of_url(url) if url else None)
    kind = spec.get("kind") or ("url" if url else "custom")
    return Target(
        name=name, db_type=db_type, kind=kind, url=url, database=spec.get("database"),
        host=spec.get("host"), port=spec.get("port"), user=spec.get("user"),
        password=spec.get("password"), image=spec.get("image"),
        description=spec.get("description", f"from {where}"),
    )


def db_type_of_url(url: str) -> str:
    """``postgres``/``mysql``/``sqlite`` for a SQLAlchemy URL, or a UsageError for a malformed one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(
            f"malformed --url {url!r}",
            "use a SQLAlchemy URL such as postgresql://user:pw@host:5432/db or sqlite:///file.db",
        ) from None
    backend = parsed.get_backend_name()
    try:
        return get_engine(backend).name
    except UsageError:
        raise UsageError(f"unsupported database in --url: {backend!r}", "use sqlite, postgresql or mysql") from None


# ---------------------------------------------------------------------------
# Resolution: flag > env > file > default
# ---------------------------------------------------------------------------
def available_targets(settings: Settings | None = None) -> dict[str, Target]:
    """Built-in targets plus the config file's, the file's winning on equal names."""
    settings = settings if settings is not None else load_settings()
    targets = builtin_targets()
    for name, spec in settings.targets.items():
        targets[name] = target_from_spec(name, spec, where=str(settings.path))
    for target in targets.values():
        if target.is_container and not target.image:
            target.image = image_for(target.db_type, settings=settings)
    return targets


def image_for(db_type: str, *, explicit: str | None = None, settings: Settings | None = None) -> str:
    """Image precedence: explicit > DKENV_<ENGINE>_IMAGE > config [images] > official default."""
    engine = get_engine(db_type)
    if explicit:
        return explicit
    if engine.image_env and os.environ.get(engine.image_env):
        return os.environ[engine.image_env]
    settings = settings if settings is not None else load_settings()
    if settings.images.get(engine.name):
        return settings.images[engine.name]
    if not engine.default_image:
        raise UsageError(f"{engine.name} does not run in a container")
    return engine.default_image


def get_target_config(name: str) -> Target:
    """The target called ``name`` (built-in or from the config file)."""
    targets = available_targets()
    if name not in targets:
        raise ConfigError(f"unknown target {name!r}", f"known targets: {', '.join(targets)} (see: dkenv targets)")
    return targets[name]


def create_custom_target(db_type: str, database: str | None = None, **kw: Any) -> Target:
    """A target from explicit settings: ``create_custom_target("postgres", "test_db", host=..., port=...)``."""
    name = kw.pop("name", f"custom_{get_engine(db_type).name}")
    kind = kw.pop("kind", "custom")
    allowed = {"host", "port", "user", "password", "url", "image", "description", "options"}
    unknown = sorted(set(kw) - allowed)
    if unknown:
        raise UsageError(f"create_custom_target: unknown argument(s) {', '.join(unknown)}")
    if kind == "custom" and get_engine(db_type).embedded:
        kind = "memory" if database in (None, ":memory:") else "file"
    return Target(name=name, db_type=db_type, kind=kind, database=database, **kw)


def get_ci_target() -> Target:
    """In-memory SQLite: no Docker, no server."""
    return get_target_config("sqlite_memory")


def get_development_target() -> Target:
    """The developer's local PostgreSQL server."""
    return get_target_config("postgres_local")


def get_integration_target() -> Target:
    """A throwaway PostgreSQL container."""
    return get_target_config("postgres_container")


_ENV_FIELDS = ("host", "port", "user", "password", "database")


def resolve_target(
    *,
    name: str | None = None,
    url: str | None = None,
    target_type: str | None = None,
    database: str | None = None,
    host: str | None = None,
    port: Any = None,
    user: str | None = None,
    password: str | None = None,
    image: str | None = None,
) -> Target:
    """The target a command should use, applying flag > ``DKENV_*`` > config file > default."""
    if port is not None:
        port = parse_port(port)
    flags = {"host": host, "port": port, "user": user, "password": password, "database": database}
    env = os.environ
    if sum(x is not None for x in (name, url, target_type)) > 1:
        raise UsageError("give only one of --target, --url and --target-type")
    if url:
        return Target("url", db_type_of_url(url), kind="url", url=url, description="from --url")
    if target_type:
        db_type = get_engine(target_type).name
        fields = {k: v if v is not None else env.get(f"DKENV_{k.upper()}") for k, v in flags.items()}
        return create_custom_target(db_type, name="custom", image=image, **fields)
    if name is None and env.get("DKENV_URL"):
        return Target("url", db_type_of_url(env["DKENV_URL"]), kind="url", url=env["DKENV_URL"],
                      description="from DKENV_URL")
    settings = load_settings()
    chosen = name or env.get("DKENV_TARGET") or settings.default_target or "sqlite_memory"
    targets = available_targets(settings)
    if chosen not in targets:
        raise ConfigError(f"unknown target {chosen!r}", f"known targets: {', '.join(targets)} (see: dkenv targets)")
    target = targets[chosen]
    if not is_embedded(target.db_type) and target.kind != "url":
        env_fields = {k: env.get(f"DKENV_{k.upper()}") for k in _ENV_FIELDS}
        if env_fields["port"] is not None:
            env_fields["port"] = parse_port(env_fields["port"], where="DKENV_PORT")
        target = target.with_overrides(**env_fields)
    target = target.with_overrides(**flags)
    if image:
        target.image = image
    return target
