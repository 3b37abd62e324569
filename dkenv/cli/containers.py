"""``dkenv up/down/ls/url/logs/prune``: thin commands over :mod:`dkenv.servers.lifecycle`.

Nothing heavy is imported at module level (``dkenv --help`` loads this module).  Every command
that touches Docker first reaps abandoned dkenv containers, with one stderr line if it removed any.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

import click

from dkenv.cli._common import emit_json, err, usage
from dkenv.cli._stdout import out, stream


def _client_after_reaping() -> Any:
    from dkenv.docker.client import get_client
    from dkenv.servers.lifecycle import reap_abandoned

    client = get_client()
    reap_abandoned(client, note=err)
    return client


@click.command()
@click.argument("engine", metavar="ENGINE")
@click.option("--name", metavar="NAME", help="Container name (default: dkenv-ENGINE-xxxxxx).")
@click.option("--image", metavar="IMAGE",
              help="Image (default: $DKENV_POSTGRES_IMAGE/$DKENV_MYSQL_IMAGE, config [images], "
                   "postgres:16 / mysql:8.0).")
@click.option("--port", metavar="PORT", help="Host port (default: a free one chosen by Docker).")
@click.option("--ttl", metavar="DURATION",
              help="Remove it after this long (90s, 30m, 2h), at the next dkenv command.")
@click.option("--user", metavar="USER", help="Database user (default: postgres / root).")
@click.option("--database", metavar="NAME", help="Database name (default: dkenv).")
@click.option("--timeout", type=float, default=60.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the server to answer SELECT 1.")
@click.option("--reuse", is_flag=True,
              help="Return a running server with the same settings instead of starting one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (url with password).")
@click.option("--env", "as_env", is_flag=True, help="Print `export ...` lines for eval.")
def up(engine: str, name: str | None, image: str | None, port: str | None, ttl: str | None,
       user: str | None, database: str | None, timeout: float, reuse: bool, as_json: bool,
       as_env: bool) -> None:
    """Start a throwaway PostgreSQL or MySQL server; it stays until `dkenv down`.

    Prints the SQLAlchemy URL (with its password) on stdout; progress goes to stderr.

    \b
    Examples:
      dkenv up postgres --name dev
      dkenv deploy ./bronze-kit --url "$(dkenv url dev)" && dkenv down dev
      eval "$(dkenv up mysql --env --ttl 2h)"      # sets DATABASE_URL, DKENV_URL, MYSQL_*
    """
    if as_json and as_env:
        raise usage("give only one of --json and --env")
    from dkenv.engines import get_engine
    from dkenv.servers.lifecycle import parse_ttl, start

    get_engine(engine)  # bad input fails before anything starts, and before Docker is asked
    parse_ttl(ttl)
    client = _client_after_reaping()
    began = time.monotonic()
    server = start(engine, name=name, image=image, port=port, user=user, database=database,
                   timeout=timeout, ttl=ttl, reuse=reuse, persistent=True, keep=False,
                   progress=err, client=client)
    server.keep()  # from here on it outlives this command; an interrupt before removes it
    took = time.monotonic() - began
    err(f"dkenv: {server.engine} server {server.name} ({server.image}) ready in {took:.1f} s "
        f"on {server.host}:{server.port}; remove it with: dkenv down {server.name}")
    if as_json:
        emit_json(server.to_dict(show_secrets=True))
    elif as_env:
        out(env_lines(server))
    else:
        out(server.url)


def env_lines(server: Any) -> str:
    """Shell ``export`` lines: generic names plus the engine's own client variables.

    Not DKENV_HOST/DKENV_PORT: those override the fields of every named target (see
    ``dkenv.config.resolve_target``), so they would redirect ``--target mysql_local`` too.
    """
    from dkenv.engines import get_engine

    values = {"DATABASE_URL": server.url, "DKENV_URL": server.url, "DKENV_NAME": server.name,
              "DKENV_DB_HOST": server.host, "DKENV_DB_PORT": str(server.port)}
    values.update(get_engine(server.engine).client_environment(
        host=server.host, port=server.port, user=server.user, password=server.password,
        database=server.database))
    return "\n".join(f"export {key}={shlex.quote(value)}" for key, value in values.items())


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "all_", is_flag=True, help="Remove every dkenv server (never other containers).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def down(names: tuple[str, ...], all_: bool, as_json: bool) -> None:
    """Remove dkenv servers by name (or all of them).

    Only containers dkenv created are ever touched.

    \b
    Examples:
      dkenv down dev
      dkenv down --all
      dkenv down dev --json       # {"success": true, "removed": ["dev"]}
    """
    from dkenv.servers.inventory import remove_servers

    if names and all_:
        raise usage("give server names or --all, not both")
    client = _client_after_reaping()
    removed = remove_servers(list(names), all=all_, client=client)
    if as_json:
        emit_json({"success": True, "removed": removed})
    else:
        for name in removed:
            out(name)
    err(f"dkenv: removed {len(removed)} server(s)" if removed else "dkenv: no dkenv servers to remove")


@click.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
@click.option("--show-secrets", is_flag=True, help="Show passwords in the URLs.")
def ls(as_json: bool, show_secrets: bool) -> None:
    """List dkenv's database servers with their URLs (passwords hidden).

    \b
    Examples:
      dkenv ls
      dkenv ls --json --show-secrets | jq -r '.[0].url'
    """
    from dkenv.servers.inventory import list_servers

    servers = list_servers(_client_after_reaping())
    rows = [s.to_dict(show_secrets=show_secrets) for s in servers]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err("dkenv: no dkenv servers (start one with: dkenv up postgres)")
        return
    header = ("NAME", "ENGINE", "STATUS", "EXPIRES", "URL")
    table = [header] + [(r["name"], r["engine"], r["status"], r["expires"] or "-", r["url"])
                        for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        out("  ".join([*cells, str(row[-1])]))


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def url(name: str, as_json: bool) -> None:
    """Print a server's URL, with its password.

    \b
    Examples:
      dkenv deploy ./kit --url "$(dkenv url dev)"
      dkenv url dev --json        # the server as `dkenv ls --json --show-secrets` shows it
    """
    from dkenv.servers.inventory import get_server

    server = get_server(name, _client_after_reaping())
    if as_json:
        emit_json(server.to_dict(show_secrets=True))
    else:
        out(server.url)


@click.command()
@click.argument("name")
@click.option("--tail", type=int, default=None, metavar="N", help="Only the last N lines.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def logs(name: str, tail: int | None, as_json: bool) -> None:
    """Print a server container's log (the database server's output).

    \b
    Example:
      dkenv logs dev --tail 20
      dkenv logs dev --json | jq -r .log
    """
    from dkenv.servers.inventory import get_server

    client = _client_after_reaping()
    server = get_server(name, client)
    raw = client.api.logs(server.container, stdout=True, stderr=True,
                          tail="all" if tail is None else max(0, tail))
    text = raw.decode("utf-8", errors="replace")
    if as_json:
        emit_json({"name": server.name, "container": server.container, "log": text})
        return
    stream().write(text)
    stream().flush()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def prune(as_json: bool) -> None:
    """Remove dkenv servers whose owner process is gone or whose time-to-live has passed.

    Every dkenv command does this first; `prune` only does that.  Prints the removed names.

    \b
    Example:
      dkenv prune
      dkenv prune --json          # {"success": true, "removed": [...]}
    """
    from dkenv.docker.client import get_client
    from dkenv.servers.lifecycle import reap_abandoned

    removed = reap_abandoned(get_client(), note=None)
    if as_json:
        emit_json({"success": True, "removed": removed})
    else:
        for name in removed:
            out(name)
    err(f"dkenv: removed {len(removed)} abandoned server(s)")
