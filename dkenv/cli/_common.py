"""What every command shares: error reporting, JSON output, target options."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from typing import Any

import click

from dkenv.cli._stdout import out
from dkenv.engines import describe_db_error
from dkenv.errors import EXIT_FAILED, EXIT_USAGE, DkenvError

DEBUG = bool(os.environ.get("DKENV_DEBUG"))
#: Whether this command has printed its JSON document (a failure after it must not add another).
_emitted = False
#: (message, hint) of the failure being reported, for the --json error document.
_last_error: tuple[str, str | None] | None = None
#: What the command knew when it failed (paths, target...); the error document starts from it.
_partial: dict[str, Any] | None = None


def err(message: str) -> None:
    """A human line on stderr (stdout is reserved for results and --json)."""
    click.echo(message, err=True)


def emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout (a second call is a bug, and prints nothing)."""
    global _emitted
    if _emitted:
        return
    _emitted = True
    out(json.dumps(document, indent=2, default=str))


def json_document(**fields: Any) -> dict[str, Any]:
    """Start this command's ``--json`` document with what is known before the work begins.

    The command fills it in as it goes (``document["target"] = ...``).  If it fails before
    printing a document, :func:`run` prints this one with ``success: false`` and ``error``:
    the one place where a failure becomes JSON, for every command.
    """
    global _partial
    _partial = {"success": False, **fields}
    return _partial


def json_wanted(args: list[str]) -> bool:
    """Whether ``--json`` is anywhere among the options (not after a ``--``)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def run(group: click.Group, args: list[str]) -> int:
    """Run ``group`` and map every failure to (one or two lines on stderr, exit code).

    With ``--json`` anywhere in ``args``, a run that failed before printing its document
    still prints exactly one: the command's :func:`json_document` (or ``{}``) with
    ``success: false`` and ``error: {message, hint, exit_code}``.  That covers usage errors
    (an unknown option, a missing argument), bad input, environment failures and Ctrl-C.
    """
    global _emitted, _partial
    _emitted = False
    _partial = None
    code = _run(group, args)
    if code != 0 and json_wanted(args) and not _emitted and _last_error is not None:
        message, hint = _last_error
        error = {"message": message, "hint": hint, "exit_code": code}
        emit_json({**(_partial or {}), "success": False, "error": error})
    return code


def _fail(message: str, hint: str | None) -> None:
    global _last_error
    _last_error = (message, hint)


def _run(group: click.Group, args: list[str]) -> int:
    global _last_error
    _last_error = None
    try:
        rv = group.main(args=args, prog_name="dkenv", standalone_mode=False)
        if isinstance(rv, int):  # click returns an Exit's code when not standalone
            return rv
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        _fail(exc.format_message(), None)
        return exc.exit_code
    except click.exceptions.Abort:
        err("dkenv: aborted")
        _fail("aborted", None)
        return 130
    except DkenvError as exc:
        if DEBUG:
            traceback.print_exc()
        err(f"dkenv: error: {exc.message}")
        if exc.hint:
            err(f"  hint: {exc.hint}")
        _fail(exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        err("dkenv: interrupted; everything dkenv started has been removed")
        _fail("interrupted; everything dkenv started has been removed", None)
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if DEBUG:
            traceback.print_exc()
        first = describe_db_error(exc)  # a database's error as one sentence, others' first line
        err(f"dkenv: internal error: {type(exc).__name__}: {first}")
        err("  hint: run again with --debug for the traceback, and report it")
        _fail(f"internal error: {type(exc).__name__}: {first}", "run again with --debug")
        return EXIT_FAILED
    return 0


def target_options(func: Callable) -> Callable:
    """--target/--url/--target-type and the custom-target fields, shared by deploy and validate."""
    options = [
        click.option("--target", "-t", "target", metavar="NAME",
                     help="Target name (see `dkenv targets`); default: $DKENV_TARGET, the config file, sqlite_memory."),
        click.option("--url", metavar="URL", help="SQLAlchemy URL of an existing database."),
        click.option("--target-type", metavar="ENGINE",
                     help="Build a custom target for sqlite, postgres or mysql from the flags below."),
        click.option("--database", metavar="NAME", help="Database name (custom/local targets)."),
        click.option("--host", metavar="HOST", help="Server host, or a Unix socket directory."),
        click.option("--port", metavar="PORT", help="Server port (1-65535)."),
        click.option("--user", metavar="USER", help="Database user."),
        click.option("--password", metavar="PASSWORD", help="Database password."),
        click.option("--image", metavar="IMAGE", help="Image for container targets."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def datakit_options(func: Callable) -> Callable:
    """--pythonpath and --verbose, for every command that reads datakits."""
    func = click.option("--verbose", "-v", is_flag=True,
                        help="List the modules discovery skipped, and why (on stderr).")(func)
    return click.option("--pythonpath", "pythonpath", multiple=True, metavar="DIR",
                        help="Folder put on sys.path while datakits are imported, for helpers outside "
                             "them (repeatable; also DKENV_PYTHONPATH, separated by os.pathsep).")(func)


def resolve(kw: dict[str, Any]):
    """Pop the target options out of ``kw`` and resolve them (flag > env > file > default)."""
    from dkenv.config import resolve_target

    return resolve_target(
        name=kw.pop("target"), url=kw.pop("url"), target_type=kw.pop("target_type"),
        database=kw.pop("database"), host=kw.pop("host"), port=kw.pop("port"),
        user=kw.pop("user"), password=kw.pop("password"), image=kw.pop("image"),
    )


def usage(message: str, hint: str | None = None) -> DkenvError:
    e = DkenvError(message, hint)
    e.exit_code = EXIT_USAGE
    return e
