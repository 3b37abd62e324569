"""`dkenv migrations check`: a datakit's Alembic history against its models, on each engine."""

from __future__ import annotations

from typing import Any

import click

from dkenv.cli._common import datakit_options, emit_json, err, json_document
from dkenv.cli._stdout import out

DEFAULT_ENGINES = "sqlite,postgres,mysql"


@click.group()
def migrations() -> None:
    """A datakit's Alembic migrations ([tool.dkenv] migrations = "alembic.ini").

    \b
    Examples:
      dkenv migrations check examples/migrations-shop --engines sqlite
      dkenv deploy examples/migrations-shop --from migrations --validate
    """


@migrations.command("check")
@click.argument("path", metavar="PATH")
@click.option("--engines", default=DEFAULT_ENGINES, show_default=True, metavar="LIST",
              help="Comma-separated engines to check on: sqlite, postgres, mysql (mariadb).")
@click.option("--data", "data", multiple=True, metavar="DIR",
              help="Also load DIR's data files at the oldest revision that holds them, upgrade to head "
                   "and report rows lost or changed (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("--timeout", default=60.0, show_default=True, metavar="SECONDS", type=float,
              help="How long a throwaway database may take to accept queries.")
@datakit_options
def check(path: str, engines: str, data: tuple[str, ...], as_json: bool, timeout: float,
          pythonpath: tuple[str, ...], verbose: bool) -> None:
    """Check the datakit's migration history on each engine, in a fresh database per engine.

    \b
    One report per engine:
      heads          the history has one head (else: the heads, and the alembic merge command)
      upgrade        upgrade head from an empty database succeeds (else: revision, file, error)
      models         the models and the migrated database match, both ways: what validate
                     compares, plus tables, columns, uniques, indexes, foreign keys, CHECKs
                     and longer strings the database has and the models do not
      downgrade      downgrade base leaves an empty database (else: what remains)
      upgrade_again  upgrading again rebuilds the same catalog
      data           (--data DIR) rows loaded at the oldest revision that holds them
                     survive the upgrade to head (else: rows_lost, rows_changed per table)

    \b
    Examples:
      dkenv migrations check examples/migrations-shop --engines sqlite
      dkenv migrations check ./my-datakit --engines sqlite,postgres,mysql --json
      dkenv migrations check ./my-datakit --engines sqlite --data ./my-datakit/data/sample

    Exit codes: 0 every check passed on every engine, 1 a check failed, 2 bad input (path,
    engine, a broken history, an env.py that fails or migrates another database),
    3 environment failure (Alembic not installed, no Docker engine, image, not ready in time).
    """
    from dkenv.cli.check import _parse_engines
    from dkenv.datakit import load_datakits
    from dkenv.migrations.check import check_kit

    document = json_document(datakit=path)
    wanted = _parse_engines(engines)
    kit = load_datakits([path], pythonpath=pythonpath, requires=False)[0]
    document["datakit"] = kit.name
    load = _loader(kit, data) if data else None
    report = check_kit(kit, wanted, progress=None if as_json else err, timeout=timeout, load=load)
    if as_json:
        emit_json(document | report.to_dict())
    else:
        out(report.summary())
    if not report.success:
        raise click.exceptions.Exit(1)


def _loader(kit: Any, dirs: tuple[str, ...]) -> Any:
    """Load ``dirs`` into a check's database with dkenv's data loader (validated, all or nothing)."""
    from pathlib import Path

    from dkenv.errors import UsageError

    for folder in dirs:
        if not Path(folder).is_dir():
            raise UsageError(f"--data: {folder!r} is not a directory", "give a directory of data files")

    def load(engine: str, url: str) -> None:
        from dkenv.config import Target
        from dkenv.data import load_data
        from dkenv.servers.runtime import open_runtime

        with open_runtime(Target(name=f"migrations check ({engine})", db_type=engine, kind="url", url=url)) as rt:
            load_data(rt, list(dirs), [kit])

    return load
