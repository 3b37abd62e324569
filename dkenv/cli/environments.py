"""``dkenv env up/ls/down``: thin commands over :mod:`dkenv.environments`.

Nothing heavy is imported at module level (``dkenv --help`` loads this module).
"""

from __future__ import annotations

import shlex
import time

import click

from dkenv.cli._common import emit_json, err, json_document, usage
from dkenv.cli._stdout import out


@click.group(name="env")
def env() -> None:
    """Layer 3 environments: several databases, each with datakits deployed in order.

    Environments are declared in dkenv.toml (or [tool.dkenv] in pyproject.toml); see
    docs/environments.md.

    \b
    Example dkenv.toml:
      [environments.pagila.databases.warehouse]
      engine = "postgres"
      datakits = ["examples/bronze-pagila", "examples/silver-pagila"]

    \b
    Examples:
      dkenv env up pagila
      eval "$(dkenv env up pagila --env)"  # DKENV_WAREHOUSE_URL=...
      dkenv env ls
      dkenv env down pagila
    """


@env.command(name="up")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (URLs with passwords).")
@click.option("--env", "as_env", is_flag=True, help="Print `export DKENV_<DB>_URL=...` lines for eval.")
@click.option("--pythonpath", "pythonpath", multiple=True, metavar="DIR",
              help="Folder put on sys.path while datakits are imported (repeatable; also DKENV_PYTHONPATH).")
@click.option("--data", "data", multiple=True, metavar="DIR",
              help="Load DIR's data files into every database, after its own data (repeatable).")
@click.option("--encoding", metavar="CODEC", default=None,
              help="The data files' text encoding (default: UTF-8, with or without a byte-order mark).")
def up_command(name: str, as_json: bool, as_env: bool, pythonpath: tuple[str, ...],
               data: tuple[str, ...], encoding: str | None) -> None:
    """Start environment NAME: its databases in parallel, its datakits deployed in order.

    Every datakit path is checked before anything starts; each datakit is validated after it
    is deployed.  A failure part-way removes everything this command started and says which
    database and datakit failed, and why.  The databases stay until `dkenv env down NAME`.
    Prints one `DATABASE URL` line per database on stdout; progress goes to stderr.

    \b
    Examples:
      dkenv env up pagila
      eval "$(dkenv env up pagila --env)" && psql "${DKENV_WAREHOUSE_URL/+psycopg2/}"
      dkenv env up pagila --json | jq -r .databases.warehouse.url
    """
    if as_json and as_env:
        raise usage("give only one of --json and --env")
    from dkenv.environments import up

    began = time.monotonic()
    environment = up(name, progress=err, pythonpath=pythonpath, data=data, encoding=encoding)
    err(f"dkenv: environment {name} up in {time.monotonic() - began:.1f} s; "
        f"remove it with: dkenv env down {name}")
    if as_json:
        emit_json(environment.to_dict(show_secrets=True))
    elif as_env:
        out("\n".join(f"export DKENV_{db.name.upper()}_URL={shlex.quote(db.url)}"
                             for db in environment.databases.values()))
    else:
        width = max(len(db) for db in environment.databases)
        for db in environment.databases.values():
            out(f"{db.name.ljust(width)}  {db.url}")


@env.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@click.option("--show-secrets", is_flag=True, help="Show passwords in the URLs.")
def ls_command(as_json: bool, show_secrets: bool) -> None:
    """List the declared environments and running ones, with each database's state and URL.

    An environment is `up` when all its databases run, `partial` when some do, `down` otherwise.

    \b
    Examples:
      dkenv env ls
      dkenv env ls --json --show-secrets | jq -r '.[] | select(.name=="pagila") | .databases[0].url'
    """
    from dkenv.environments import list_environments

    rows = [e.to_dict() for e in list_environments(show_secrets=show_secrets)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err("dkenv: no environments (declare one as [environments.NAME] in dkenv.toml)")
        return
    table = [("ENVIRONMENT", "STATUS", "DATABASE", "ENGINE", "URL")]
    for row in rows:
        status = row["status"] + ("" if row["declared"] else " (not declared)")
        for i, db in enumerate(row["databases"]):
            table.append((row["name"] if i == 0 else "", status if i == 0 else "", db["name"],
                          db["engine"], db["url"] or f"({db['status']})"))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        out("  ".join([*(c.ljust(w) for c, w in zip(r[:4], widths)), r[4]]).rstrip())


@env.command(name="down")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def down_command(names: tuple[str, ...], as_json: bool) -> None:
    """Remove environment NAME: its containers and SQLite files (never anything else).

    Works from what is running, so an environment no longer in the config file can still be
    removed.  Prints what was removed.

    \b
    Example:
      dkenv env down pagila
      dkenv env down pagila --json   # {"success": true, "environments": {"pagila": [...]}}
    """
    from dkenv.environments import down

    document = json_document(environments={})
    for name in names:
        removed = down(name)
        document["environments"][name] = removed
        if not as_json:
            for item in removed:
                out(item)
        err(f"dkenv: environment {name}: removed {len(removed)} database(s)" if removed
            else f"dkenv: environment {name} is not up; nothing to remove")
    if as_json:
        emit_json({**document, "success": True})
