"""`dkenv load` (and `dkenv snapshot`): data into live databases."""

from __future__ import annotations

from typing import Any

import click

from dkenv.cli._common import emit_json, err, json_document, resolve, target_options
from dkenv.cli._stdout import out


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="DIR... PATH...")
@target_options
@click.option("--data", "data", multiple=True, metavar="DIR", help="A data directory (repeatable; same as a DIR).")
@click.option("--pythonpath", multiple=True, metavar="DIR", help="Extra import path for the datakits (repeatable).")
@click.option("--encoding", metavar="CODEC", default=None,
              help="The data files' text encoding (default: UTF-8, with or without a byte-order mark).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def load(args: tuple[str, ...], data: tuple[str, ...], pythonpath: tuple[str, ...], as_json: bool,
         encoding: str | None = None, **kw: Any) -> None:
    """Load data files into an existing deployment of the datakits, all or nothing.

    DIR is a data directory: one file per table, <table>.csv|json|jsonl or
    <schema>.<table>.csv|json|jsonl; PATH is a datakit (a directory holding Python code).
    Rows are validated through the models first and loaded parents first in one
    transaction; any bad row is reported as file:line: table.column: what is wrong, and
    nothing is loaded.  Without DIR, the datakits' own data directories are loaded.

    \b
    Examples:
      dkenv load examples/bronze-pagila/data --url "$(dkenv url dev)" examples/bronze-pagila
      dkenv load data/ more/ --url sqlite:///dev.db ./kit --json
      dkenv load legacy/ --encoding latin-1 --url sqlite:///dev.db ./kit

    Exit codes: 0 loaded, 1 bad rows or the database refused them, 2 bad input
    (unknown table or column, malformed file), 3 environment failure.
    """
    from dkenv.jobs import load_paths

    document = json_document()
    target = resolve(kw)
    document["target"] = target.name
    result = load_paths(args, target, data=data, pythonpath=pythonpath, progress=err, encoding=encoding)
    if as_json:
        emit_json(result.to_dict())
        if result.note:
            err(f"dkenv: {result.note}")
    else:
        out(result.summary())


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="NAME | ls | rm NAME...")
@click.option("--url", required=True, metavar="URL",
              help="The database to snapshot (ls/rm: any database on the same server, or beside the SQLite file).")
@click.option("--replace", is_flag=True, help="Replace a snapshot of the same name.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def snapshot(args: tuple[str, ...], url: str, replace: bool, as_json: bool) -> None:
    """Turn a database into a named template that isolated databases are copied from.

    PostgreSQL: a template database on the same server (the source must have no other
    sessions).  SQLite: a copy of the file (and its schemas' files) beside it.
    MySQL/MariaDB: not supported (exit 2).  In Python and pytest, copies come from
    server.database(snapshot=NAME) and @pytest.mark.dkenv(snapshot=NAME).

    \b
    Examples:
      dkenv snapshot after-bronze --url postgresql://postgres:pw@127.0.0.1:5433/pipeline
      dkenv snapshot ls --url postgresql://postgres:pw@127.0.0.1:5433/postgres
      dkenv snapshot rm after-bronze --url postgresql://postgres:pw@127.0.0.1:5433/postgres
    """
    from dkenv.data import snapshots

    if args[0] == "ls":
        found = snapshots.ls(url)
        if as_json:
            emit_json([s.to_dict() for s in found])
        elif not found:
            err("dkenv: no snapshots")
        for s in [] if as_json else found:
            size = f"{s.size_bytes / 1e6:.1f} MB" if s.size_bytes is not None else ""
            out(f"{s.name}  {s.engine}  {s.where}  {size}")
        return
    if args[0] == "rm":
        if len(args) < 2:
            raise click.UsageError("which snapshot? dkenv snapshot rm NAME --url URL")
        for name in args[1:]:
            snapshots.rm(url, name)
            err(f"dkenv: removed snapshot {name}")
        if as_json:
            emit_json({"removed": list(args[1:])})
        return
    if len(args) != 1:
        raise click.UsageError("give one snapshot NAME (or ls, or rm NAME)")
    made = snapshots.take(url, args[0], replace=replace)
    if as_json:
        emit_json(made.to_dict())
    else:
        out(f"snapshot {made.name}: {made.where}")
