"""A datakit's Alembic history: where it is, Alembic's ``Config`` for a target, its heads, its hash.

``[tool.dkenv] migrations`` names the project's ``alembic.ini`` or its script folder (the one
holding ``env.py``).  dkenv drives Alembic through its own API (``alembic.command``, ``Config``,
``ScriptDirectory``) and hands ``env.py`` the target the way Alembic users expect: the URL as
the ``sqlalchemy.url`` main option, and an open connection as ``config.attributes["connection"]``
for env.py files written for it (Alembic's cookbook pattern).

Alembic is optional (``dkenv[migrations]``); :func:`require_alembic` says so in one line.
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkenv.errors import DatakitError, EnvironmentFailure, UsageError

#: Bumped when how a migrations build leaves a database changes: older templates are not reused.
BUILD_VERSION = 1


def require_alembic() -> None:
    """Raise a one-line error naming the extra when Alembic is not installed."""
    try:
        import alembic  # noqa: F401
    except ImportError:
        raise EnvironmentFailure("building from migrations needs Alembic, which is not installed",
                                 "pip install 'dkenv[migrations]'") from None


@dataclass(frozen=True)
class History:
    """The migrations of one datakit: its ini file (if any), its script folder, its import roots."""

    kit_name: str
    ini: Path | None
    scripts: Path
    roots: tuple[Path, ...]  # folders on sys.path while env.py and the revisions run
    where: str  # file:line of the ``migrations`` setting, for messages

    def config(self, url: str | None = None, connection: Any = None) -> Any:
        """Alembic's ``Config`` for a target: ``sqlalchemy.url`` and ``attributes["connection"]``."""
        from alembic.config import Config

        cfg = Config(str(self.ini)) if self.ini else Config()
        cfg.set_main_option("script_location", str(self.scripts))
        if url is not None:
            cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    def script(self) -> Any:
        """Alembic's ``ScriptDirectory`` with every revision loaded (errors become dkenv's)."""
        from alembic.script import ScriptDirectory

        from dkenv.migrations.failures import history_error

        # Alembic warns about a down_revision that names nothing, then fails with a bare KeyError:
        # the warning is the message worth showing.
        with self.imports(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                script = ScriptDirectory.from_config(self.config())
                list(script.walk_revisions())  # loads every revision file, checks the graph
            except Exception as exc:  # noqa: BLE001 - translated into one line, or re-raised
                raise history_error(exc, self, [str(w.message) for w in caught]) from None
        return script

    def heads(self) -> list[str]:
        return list(self.script().get_heads())

    def one_head(self, script: Any) -> None:
        """A build needs one head: several are named, with the command that merges them."""
        heads = list(script.get_heads())
        if len(heads) > 1:
            raise DatakitError(f"{self.kit_name}: the migration history has {len(heads)} heads: {', '.join(heads)}",
                               f'merge them: alembic merge -m "merge heads" {" ".join(heads)}')

    def content_hash(self) -> str:
        """A hash of the scripts (env.py, every revision) and the ini: a new revision, a new key."""
        digest = hashlib.sha256(f"migrations v{BUILD_VERSION}".encode())
        files = [self.ini] if self.ini else []
        files += sorted(p for p in self.scripts.rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".mako", ".ini"))
        for path in files:
            digest.update(str(path.relative_to(self.scripts.parent) if path.is_relative_to(self.scripts.parent)
                              else path.name).encode())
            digest.update(b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]

    @contextmanager
    def imports(self) -> Iterator[None]:
        """env.py and the revisions import the application: its folders on ``sys.path`` for the
        run, its modules out of ``sys.modules`` afterwards, and SQLModel tables it defines in a
        registry of their own (a second run would otherwise find them already defined)."""
        from dkenv.datakit import own_registry

        saved_path = list(sys.path)
        before = set(sys.modules)
        with own_registry():
            sys.path[:0] = [str(r) for r in self.roots if str(r) not in sys.path]
            try:
                yield
            finally:
                sys.path[:] = saved_path
                for name in set(sys.modules) - before:
                    file = getattr(sys.modules[name], "__file__", None) or ""
                    if any(Path(file).is_relative_to(r) for r in self.roots if file):
                        del sys.modules[name]


def history_of(kit: Any) -> History:
    """The migrations the datakit declares; a datakit without any is bad input for a migrations build."""
    require_alembic()
    settings = kit.settings
    path: Path | None = getattr(settings, "migrations", None)
    if path is None:
        raise UsageError(f"datakit {kit.name} declares no migrations",
                         f'add migrations = "alembic.ini" (or the script folder) under [tool.dkenv] in '
                         f"{settings.source or Path(kit.path) / 'pyproject.toml'}, or build from the models")
    where = settings.where("migrations")
    roots = (Path(kit.path), *settings.pythonpath)
    if path.is_dir():
        return History(kit.name, None, path, roots, where)
    scripts = _script_location(path, where)
    return History(kit.name, path, scripts, (path.parent, *roots), where)


def _script_location(ini: Path, where: str) -> Path:
    """The ``script_location`` an ``alembic.ini`` names (``%(here)s`` and relative paths resolved)."""
    from alembic.config import Config

    try:
        raw = Config(str(ini)).get_main_option("script_location")
    except Exception as exc:  # noqa: BLE001 - a malformed ini is bad input
        raise DatakitError(f"{ini}: cannot read it as an Alembic ini file: {str(exc).splitlines()[0]}",
                           "fix the file, or point migrations at the script folder") from None
    if not raw:
        raise DatakitError(f"{ini}: no script_location under [alembic]",
                           "add script_location = %(here)s/migrations (the folder holding env.py)")
    folder = Path(raw)
    if not folder.is_absolute():
        folder = ini.parent / folder
    folder = folder.resolve()
    if not (folder / "env.py").is_file():
        raise DatakitError(f"{ini}: script_location {raw!r} holds no env.py ({folder})",
                           f"fix script_location, or the migrations setting at {where}")
    return folder
