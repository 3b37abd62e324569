"""`dkenv targets`, `dkenv deploy`, `dkenv validate`."""

from __future__ import annotations

from typing import Any

import click

from dkenv.cli._common import (
    datakit_options,
    emit_json,
    err,
    json_document,
    resolve,
    target_options,
)
from dkenv.cli._stdout import out


def _list_targets(as_json: bool) -> None:
    from dkenv.config import available_targets

    targets = available_targets()
    if as_json:
        emit_json([t.to_dict(show_secrets=False) | {"name": name} for name, t in targets.items()])
        return
    width = max(len(n) for n in targets)
    for name, t in targets.items():
        out(f"{name:<{width}}  {t.db_type:<8}  {t.kind:<9}  {t.description}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def targets(as_json: bool) -> None:
    """List the targets datakits can be deployed to: built-in ones and those named in the config file.

    \b
    Examples:
      dkenv targets
      dkenv targets --json
      dkenv deploy --list-targets
    """
    _list_targets(as_json)


def _list_targets_callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        _list_targets(as_json=False)
        ctx.exit(0)


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@target_options
@click.option("--validate", "run_validation", is_flag=True, help="Validate the live schema after deploying.")
@click.option("--cleanup", is_flag=True, help="Drop what was deployed afterwards (leave the target as found).")
@click.option("--keep", is_flag=True, help="Keep a container or temp file target after exit; print its URL.")
@click.option("--data", "data", multiple=True, metavar="DIR",
              help="Load the data files of DIR after the deploy (repeatable; all or nothing).")
@click.option("--encoding", metavar="CODEC", default=None,
              help="The --data files' text encoding (default: UTF-8, with or without a byte-order mark).")
@click.option("--from", "build", type=click.Choice(["models", "migrations"]), default="models", show_default=True,
              help="Build the tables from the models (create_all) or by running the datakit's Alembic migrations.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("--list-targets", is_flag=True, expose_value=False, is_eager=True,
              callback=_list_targets_callback, help="List the targets and exit.")
@datakit_options
def deploy(paths: tuple[str, ...], run_validation: bool, cleanup: bool, keep: bool, data: tuple[str, ...],
           build: str, as_json: bool, pythonpath: tuple[str, ...], verbose: bool, encoding: str | None = None,
           **kw: Any) -> None:
    """Deploy one or more datakits, in the order given (bronze before silver).

    \b
    Examples:
      dkenv deploy examples/bronze-pagila --validate
      dkenv deploy examples/bronze-pagila examples/silver-pagila --target sqlite_file --validate
      dkenv deploy ./bronze-pagila --target postgres_container --validate --json
      dkenv deploy ./bronze-pagila --url postgresql://postgres:pw@127.0.0.1:5433/test_db
      dkenv deploy examples/bronze-pagila --data examples/bronze-pagila/data/sample --validate
      dkenv deploy examples/migrations-shop --from migrations --validate

    Exit codes: 0 deployed (and valid), 1 deploy or validation failed, 2 bad input,
    3 environment failure (Docker, image, connection).
    """
    from dkenv import jobs

    if cleanup and keep:
        raise click.UsageError("--cleanup and --keep contradict each other; give one")
    document = json_document(datakits=list(paths), tables=[])
    target = resolve(kw)
    document["target"] = target.name
    outcome = jobs.deploy_paths(paths, target, validate=run_validation, cleanup=cleanup, keep=keep,
                                data=data, progress=None if as_json else err,
                                pythonpath=pythonpath, verbose=verbose, warn=err, encoding=encoding,
                                build=build)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        out(outcome.summary())
    if not outcome.success:
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@target_options
@click.option("--strict", is_flag=True,
              help="Also report what the database has beyond the models (tables, columns, uniques, indexes, "
                   "foreign keys, CHECKs, longer strings).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@datakit_options
def validate(paths: tuple[str, ...], strict: bool, as_json: bool, pythonpath: tuple[str, ...], verbose: bool,
             **kw: Any) -> None:
    """Check a live database against the datakits, without deploying anything.

    \b
    Examples:
      dkenv validate ./bronze-pagila --url postgresql://postgres:pw@127.0.0.1:5433/test_db
      dkenv validate ./bronze-pagila --target postgres_local --json
      dkenv validate ./my-datakit --url sqlite:///app.db --strict

    Every difference is one line: table, kind (missing_table, missing_column, type_mismatch,
    nullability, primary_key, foreign_key, unique, index) and detail.  Exit 1 when any.
    By default only what the models declare is looked for (a database may hold several
    datakits); --strict also reports what the database has beyond them (extra_table, ...).
    """
    from dkenv import jobs

    document = json_document(datakits=list(paths))
    target = resolve(kw)
    document["target"] = target.name
    outcome = jobs.validate_paths(paths, target, pythonpath=pythonpath,
                                  progress=None if as_json else err, verbose=verbose, strict=strict)
    if as_json:
        emit_json(outcome.to_dict())
    else:
        out(outcome.summary())
    if not outcome.success:
        raise click.exceptions.Exit(1)
