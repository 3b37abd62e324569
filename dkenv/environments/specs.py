"""Layer 3 environment declarations: ``[environments.NAME]`` tables parsed and checked.

Reading the config is separate from running it (:mod:`dkenv.environments`), so that a bad
declaration fails, with its file and line, before anything starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dkenv.config import Settings, load_settings, parse_port
from dkenv.engines import is_embedded
from dkenv.errors import ConfigError, UsageError

ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
DB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")
_ENV_KEYS = {"description", "databases"}
_CONTAINER_KEYS = {"image", "user", "password", "database", "port", "timeout", "ttl", "env"}
_DB_KEYS = {"engine", "datakits", "data", "validate", "pythonpath", "build", *_CONTAINER_KEYS}
_NO_ENTRY = object()  # locate_in_config without an array entry


# ---------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DatabaseSpec:
    """One ``[environments.ENV.databases.DB]`` table, checked."""

    name: str
    engine: str  # canonical: postgres | mysql | sqlite
    datakits: tuple[str, ...]  # as written in the file
    paths: tuple[Path, ...]  # resolved against the config file's directory
    image: str | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    port: int | None = None
    timeout: float = 60.0
    ttl: str | float | None = None
    env: dict[str, str] = field(default_factory=dict)
    validate: bool = True
    pythonpath: tuple[Path, ...] = ()  # folders on sys.path while its datakits are imported
    where: str = ""  # "file:line" of its table, for messages
    data: tuple[Path, ...] = ()  # data directories loaded after the datakits, resolved like paths
    build: str = "models"  # "migrations": each datakit's Alembic history builds its tables
    encoding: str | None = None  # the data files' text encoding (`env up --encoding`; default UTF-8)


@dataclass(frozen=True)
class EnvironmentSpec:
    """One ``[environments.ENV]`` table, checked."""

    name: str
    databases: dict[str, DatabaseSpec]
    description: str = ""
    source: Path | None = None


def settings_from(config: str | Path | None) -> Settings:
    """The settings an environment command reads: ``config`` if given, else the usual search."""
    return load_settings(Path(config) if config is not None else None)


def environment_specs(settings: Settings | None = None) -> dict[str, EnvironmentSpec]:
    """Every environment the config file declares, checked (ConfigError with file:line)."""
    settings = settings if settings is not None else load_settings()
    return {name: _parse_env(name, raw, settings) for name, raw in settings.environments.items()}


def environment_spec(name: str, settings: Settings | None = None) -> EnvironmentSpec:
    """The environment called ``name``; unknown → ConfigError listing the declared ones."""
    settings = settings if settings is not None else load_settings()
    if name not in settings.environments:
        raise unknown_environment(name, settings)
    return _parse_env(name, settings.environments[name], settings)


def unknown_environment(name: str, settings: Settings, running: list[str] | None = None) -> ConfigError:
    known = sorted(set(settings.environments) | set(running or []))
    if settings.path is None:
        return ConfigError(f"unknown environment {name!r}: no config file here (dkenv.toml, or "
                           "[tool.dkenv] in pyproject.toml)",
                           "declare it as [environments.NAME] in dkenv.toml (see docs/environments.md)")
    return ConfigError(f"unknown environment {name!r} in {settings.path}",
                       f"known environments: {', '.join(known)}" if known else
                       "the file declares none; add [environments.NAME] (see docs/environments.md)")


def _parse_env(name: str, raw: Any, settings: Settings) -> EnvironmentSpec:
    path = settings.path
    where = locate_in_config(path, name)
    if not ENV_NAME.match(name):
        raise ConfigError(f"{where}: environment name {name!r} is not allowed",
                          "use letters, digits, '-' and '_' (starting with a letter or digit)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [environments.{name}] must be a table")
    unknown = sorted(set(raw) - _ENV_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} in [environments.{name}]",
                          f"databases go in [environments.{name}.databases.NAME] tables; "
                          f"allowed keys here: {', '.join(sorted(_ENV_KEYS))}")
    databases = raw.get("databases")
    if not isinstance(databases, dict) or not databases:
        raise ConfigError(f"{where}: environment {name!r} declares no databases",
                          f"add a [environments.{name}.databases.NAME] table with engine and datakits")
    base = path.parent if path is not None else Path.cwd()
    specs = {db: _parse_db(name, db, spec, base, path) for db, spec in databases.items()}
    return EnvironmentSpec(name=name, databases=specs, description=str(raw.get("description", "")),
                           source=path)


def _parse_db(env: str, db: str, raw: Any, base: Path, path: Path | None) -> DatabaseSpec:
    from dkenv.docker.labels import parse_ttl
    from dkenv.engines import get_engine

    table = f"[environments.{env}.databases.{db}]"
    where = locate_in_config(path, env, db)

    def bad(message: str, hint: str | None = None, key: str | None = None,
            entry: Any = _NO_ENTRY) -> ConfigError:
        here = locate_in_config(path, env, db, key, entry) if key else where
        return ConfigError(f"{here}: {table}: {message}", hint)

    if not DB_NAME.match(db):
        raise bad(f"database name {db!r} is not allowed",
                  "use an identifier (letters, digits, '_'; it becomes DKENV_<NAME>_URL)")
    if not isinstance(raw, dict):
        raise bad("must be a table")
    unknown = sorted(set(raw) - _DB_KEYS)
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}", f"allowed keys: {', '.join(sorted(_DB_KEYS))}",
                  key=unknown[0])
    if "engine" not in raw:
        raise bad("needs engine = \"postgres\", \"mysql\" or \"sqlite\"")
    try:
        engine = get_engine(raw["engine"]).name
    except UsageError as exc:
        raise bad(exc.message, exc.hint, key="engine") from None
    if is_embedded(engine):
        extra = sorted(set(raw) & _CONTAINER_KEYS)
        if extra:
            raise bad(f"{', '.join(extra)} only apply to container databases (engine = {engine!r})",
                      "remove them, or use engine = \"postgres\" or \"mysql\"", key=extra[0])

    kits = raw.get("datakits", [])
    if not isinstance(kits, list):
        raise bad("datakits must be a list of paths, in deploy order (bronze before silver)",
                  key="datakits")
    wrong = next((k for k in kits if not (isinstance(k, str) and k)), _NO_ENTRY)
    if wrong is not _NO_ENTRY:
        raise bad(f"datakits entry {wrong!r} is not a path: datakits must be a list of paths, in "
                  "deploy order (bronze before silver)", key="datakits",
                  entry=wrong if isinstance(wrong, (str, int, float, bool)) else _NO_ENTRY)
    pythonpath = raw.get("pythonpath", [])
    if not isinstance(pythonpath, list) or not all(isinstance(p, str) and p for p in pythonpath):
        raise bad("pythonpath must be a list of folders (relative to this file)", key="pythonpath")
    for key in ("image", "user", "password", "database"):
        if key in raw and not isinstance(raw[key], str):
            raise bad(f"{key} must be a string", key=key)
    port = None
    if "port" in raw:
        try:
            port = parse_port(raw["port"], where="port")
        except UsageError as exc:
            raise bad(exc.message, exc.hint, key="port") from None
    timeout = raw.get("timeout", 60.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise bad(f"timeout must be a positive number of seconds, not {timeout!r}", key="timeout")
    ttl = raw.get("ttl")
    if ttl is not None:
        try:
            parse_ttl(ttl)
        except UsageError as exc:
            raise bad(exc.message.replace("--ttl", "ttl"), exc.hint, key="ttl") from None
    variables = raw.get("env", {})
    scalar = str | int | float | bool
    if not isinstance(variables, dict) or not all(isinstance(v, scalar) for v in variables.values()):
        raise bad("env must be a table of NAME = \"value\"", key="env")
    validate = raw.get("validate", True)
    if not isinstance(validate, bool):
        raise bad("validate must be true or false", key="validate")
    build = raw.get("build", "models")
    if build not in ("models", "migrations"):
        raise bad(f"build must be \"models\" or \"migrations\", not {build!r}", key="build")
    data = raw.get("data", [])
    if not isinstance(data, list) or not all(isinstance(d, str) and d for d in data):
        raise bad("data must be a list of data directories", key="data")
    return DatabaseSpec(
        name=db, engine=engine, datakits=tuple(kits),
        paths=tuple((base / Path(k).expanduser()) for k in kits),
        image=raw.get("image"), user=raw.get("user"), password=raw.get("password"),
        database=raw.get("database"), port=port, timeout=float(timeout), ttl=ttl,
        env={str(k): str(v) for k, v in variables.items()}, validate=validate, where=where,
        pythonpath=tuple(base / Path(p).expanduser() for p in pythonpath),
        data=tuple(base / Path(d).expanduser() for d in data), build=build,
    )


def locate_in_config(path: Path | None, env: str, db: str | None = None, key: str | None = None,
                     entry: Any = _NO_ENTRY, occurrence: int = 0) -> str:
    """``file:line`` of an environment's (or database's, key's, or array entry's) declaration.

    ``entry``: a value inside the key's array (``datakits = ["a", "b"]``); the line is the
    entry's own (its ``occurrence``-th appearance, for a path listed twice), not the line of
    ``datakits = [``. tomllib reports no positions, so the source is scanned; best effort:
    anything not found falls back to the key's line, then the table's, then the file.
    """
    if path is None:
        return "config"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return str(path)
    parts = [r"environments", re.escape(env)] + ([r"databases", re.escape(db)] if db else [])
    quoted = [p if p == "environments" or p == "databases" else rf"(?:{p}|\"{p}\"|'{p}')"
              for p in parts]
    header = re.compile(r"^\s*\[\s*(?:tool\s*\.\s*dkenv\s*\.\s*)?" + r"\s*\.\s*".join(quoted) + r"\s*\]")
    for number, line in enumerate(lines, 1):
        if header.match(line):
            if key:
                assign = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
                for offset, later in enumerate(lines[number:], number + 1):
                    if later.lstrip().startswith("["):
                        break
                    if assign.match(later):
                        if entry is not _NO_ENTRY:
                            found = _find_entry(lines, offset, entry, occurrence)
                            if found is not None:
                                return f"{path}:{found}"
                        return f"{path}:{offset}"
            return f"{path}:{number}"
    return str(path)


def _find_entry(lines: list[str], start: int, entry: Any, occurrence: int) -> int | None:
    """Line number (1-based) of ``entry`` in the array assigned on line ``start``.

    Walks the value character by character — strings (basic and literal, with escapes),
    comments and brackets — so a ``]`` or ``#`` inside a path never ends the array early, and
    a path that merely contains the entry as a substring never matches.
    """
    text = "\n".join(lines[start - 1:])
    i = text.index("=") + 1
    depth = 0
    line = start
    seen = 0
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif char in "\"'":
            value, j = _toml_string(text, i)
            if value == entry:
                if seen == occurrence:
                    return line
                seen += 1
            line += text.count("\n", i, j)
            i = j
            continue
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth <= 0:
                return None
        elif depth == 0 and not char.isspace():
            return None  # not an array
        elif depth > 0 and not isinstance(entry, str) and text.startswith(_toml_scalar(entry), i):
            if seen == occurrence:
                return line
            seen += 1
        i += 1
    return None


def _toml_string(text: str, i: int) -> tuple[str, int]:
    """The TOML string starting at ``text[i]`` (a quote) and the index after it."""
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    delim = quote * 3 if triple else quote
    j = i + len(delim)
    out = []
    while j < len(text) and not text.startswith(delim, j):
        if quote == '"' and text[j] == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}.get(nxt, nxt))
            j += 2
            continue
        out.append(text[j])
        j += 1
    return "".join(out), j + len(delim)


def _toml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
