"""`dkenv load` (and `dkenv snapshot`): data into live databases."""

from __future__ import annotations

from typing import Any

import click

from dkenv.cli._common import emit_json, err, resolve, target_options
from dkenv.errors import DkenvError


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="DIR... PATH...")
@target_options
@click.option("--data", "data", multiple=True, metavar="DIR", help="A data directory (repeatable; same as a DIR).")
@click.option("--pythonpath", multiple=True, metavar="DIR", help="Extra import path for the datakits (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def load(args: tuple[str, ...], data: tuple[str, ...], pythonpath: tuple[str, ...], as_json: bool,
         **kw: Any) -> None:
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

    Exit codes: 0 loaded, 1 bad rows or the database refused them, 2 bad input
    (unknown table or column, malformed file), 3 environment failure.
    """
    from dkenv.data import load_paths

    document: dict[str, Any] = {"success": False}
    try:
        target = resolve(kw)
        document["target"] = target.name
        result = load_paths(args, target, data=data, pythonpath=pythonpath, progress=err)
    except DkenvError as exc:
        if as_json:
            document["error"] = {"message": exc.message, "hint": exc.hint, "exit_code": exc.exit_code}
            emit_json(document)
        raise
    if as_json:
        emit_json(result.to_dict())
        if result.note:
            err(f"dkenv: {result.note}")
    else:
        click.echo(result.summary())
