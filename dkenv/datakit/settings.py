"""A datakit's own settings: ``[tool.dkenv]`` in its ``pyproject.toml``, or a ``dkenv.toml`` beside it.

Keys (all optional; paths are relative to the file that names them)::

    [tool.dkenv]
    include = ["bronze.models.*"]      # globs of modules (dotted names or file paths) considered at all
    exclude = ["bronze.models.legacy"] # globs of modules never imported
    pythonpath = [".."]                # folders on sys.path while the datakit is imported
    requires = ["../bronze"]           # datakits this one builds on (deployed first)
    data = ["data"]                    # data directories loaded whenever it is deployed
    migrations = "alembic.ini"         # its Alembic history (ini file or script folder): deploy --from migrations

The same file may hold the project's config (targets, environments): those keys are left to
:mod:`dkenv.config`.  Any other key is a typo, reported with file and line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dkenv.datakit.layout import is_package
from dkenv.errors import ConfigError

DATAKIT_KEYS = ("include", "exclude", "pythonpath", "requires", "data", "extensions", "migrations")
#: Keys of the project config file (dkenv.config and the environments/data features) that may share the table.
CONFIG_KEYS = {"targets", "default_target", "images", "environments", "snapshots", "servers"}


@dataclass
class DatakitSettings:
    """The parsed settings, paths resolved; ``source`` is the file they came from (or None)."""

    source: Path | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    pythonpath: list[Path] = field(default_factory=list)
    requires: list[Path] = field(default_factory=list)
    data: list[Path] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)  # PostgreSQL extensions a deploy creates
    migrations: Path | None = None  # alembic.ini or the script folder (dkenv.migrations)

    def where(self, key: str) -> str:
        """``file:line`` of ``key`` in the settings file (best effort)."""
        return locate_key(self.source, key) if self.source else "[tool.dkenv]"


def candidate_files(path: Path) -> list[Path]:
    """Where a datakit's settings may live: the datakit folder, and for a package its project."""
    folders = [path]
    if is_package(path):
        parent = path.parent
        folders.append(parent)
        if parent.name == "src":
            folders.append(parent.parent)
    files = []
    for folder in folders:
        files += [folder / "dkenv.toml", folder / "pyproject.toml"]
    return files


def project_file(path: Path) -> Path | None:
    """The datakit's own ``pyproject.toml`` (for its dependencies), if any."""
    for candidate in candidate_files(path):
        if candidate.name == "pyproject.toml" and candidate.is_file():
            return candidate
    return None


def _section_line(lines: list[str], pyproject: bool) -> int:
    if not pyproject:
        return 0
    for number, line in enumerate(lines):
        if re.match(r"^\s*\[\s*tool\s*\.\s*dkenv\s*\]", line):
            return number + 1
    return 0


def locate_key(path: Path, key: str) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return str(path)
    start = _section_line(lines, path.name == "pyproject.toml")
    pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
    header = re.compile(rf"^\s*\[\s*(?:tool\s*\.\s*dkenv\s*\.\s*)?{re.escape(key)}\s*[\].]")
    for number, line in enumerate(lines[start:], start + 1):
        if pattern.match(line) or header.match(line):
            return f"{path}:{number}"
        if start and line.lstrip().startswith("[") and not line.lstrip().startswith("[tool.dkenv"):
            break
    return f"{path}:{start}" if start else str(path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise ConfigError(f"{where}: malformed TOML: {exc}", "fix the TOML syntax at that line") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        return tool.get("dkenv") if isinstance(tool, dict) and "dkenv" in tool else None
    return data


def _strings(value: Any, key: str, settings: DatakitSettings) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{settings.where(key)}: {key} must be a list of strings",
                          f'write {key} = ["..."]')
    return list(value)


def _folders(value: Any, key: str, settings: DatakitSettings, base: Path, *, what: str) -> list[Path]:
    folders = []
    for raw in _strings(value, key, settings):
        folder = (base / raw).resolve()
        if not folder.is_dir():
            raise ConfigError(f"{settings.where(key)}: {key} entry {raw!r} is not a folder ({folder} does not exist)",
                              f"fix the path; it is relative to {base}, and names {what}")
        folders.append(folder)
    return folders


def _migrations(value: Any, settings: DatakitSettings, base: Path) -> Path:
    """The ``alembic.ini`` or script folder ``migrations`` names; it must exist."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{settings.where('migrations')}: migrations must be a path (a string)",
                          'write migrations = "alembic.ini" (or the folder holding env.py)')
    path = (base / value).resolve()
    if not path.exists():
        raise ConfigError(f"{settings.where('migrations')}: migrations {value!r} does not exist ({path})",
                          f"fix the path; it is relative to {base} and names alembic.ini or the folder holding env.py")
    if path.is_dir() and not (path / "env.py").is_file():
        raise ConfigError(f"{settings.where('migrations')}: migrations folder {value!r} holds no env.py",
                          "point it at alembic.ini, or at the script folder (the one holding env.py)")
    return path


def load_settings(path: Path) -> DatakitSettings:
    """The settings of the datakit at ``path`` (resolved), from the first file that has any."""
    for candidate in candidate_files(path):
        if not candidate.is_file():
            continue
        data = _read(candidate)
        if data is None:
            continue
        settings = DatakitSettings(source=candidate)
        for key in data:
            if key not in DATAKIT_KEYS and key not in CONFIG_KEYS:
                raise ConfigError(
                    f"{locate_key(candidate, key)}: unknown datakit setting {key!r}",
                    f"the settings a datakit understands are {', '.join(DATAKIT_KEYS)}; fix or remove {key!r}")
        base = candidate.parent
        settings.include = _strings(data.get("include", []), "include", settings)
        settings.exclude = _strings(data.get("exclude", []), "exclude", settings)
        settings.pythonpath = _folders(data.get("pythonpath", []), "pythonpath", settings, base,
                                       what="a folder put on sys.path while the datakit is imported")
        settings.requires = _folders(data.get("requires", []), "requires", settings, base,
                                     what="a datakit this one builds on")
        settings.data = _folders(data.get("data", []), "data", settings, base, what="a data directory")
        settings.extensions = _strings(data.get("extensions", []), "extensions", settings)
        if "migrations" in data:
            settings.migrations = _migrations(data["migrations"], settings, base)
        return settings
    return DatakitSettings()
