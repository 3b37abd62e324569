"""The ``dkenv`` command group.  Thin: each command parses, calls one library function, prints.

Commands live in submodules and are imported only when used, so ``dkenv --help`` does
not pay for SQLAlchemy or the Docker SDK.
"""

from __future__ import annotations

import importlib
import sys

import click

from dkenv import __version__
from dkenv.cli import _common
from dkenv.cli._noise import route_library_noise
from dkenv.cli._stdout import guard_command

# command name -> "module:attribute"
COMMANDS = {
    "targets": "dkenv.cli.deploy:targets",
    "deploy": "dkenv.cli.deploy:deploy",
    "validate": "dkenv.cli.deploy:validate",
    "up": "dkenv.cli.containers:up",
    "down": "dkenv.cli.containers:down",
    "ls": "dkenv.cli.containers:ls",
    "url": "dkenv.cli.containers:url",
    "logs": "dkenv.cli.containers:logs",
    "prune": "dkenv.cli.containers:prune",
    "image": "dkenv.cli.images:image",
    "env": "dkenv.cli.environments:env",
    "check": "dkenv.cli.check:check",
    "load": "dkenv.cli.data:load",
    "snapshot": "dkenv.cli.data:snapshot",
    "migrations": "dkenv.cli.migrations:migrations",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built into this version
                return None
            raise
        return guard_command(getattr(module, attr))  # stdout is the user's: see _stdout


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="dkenv")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
def cli(debug: bool) -> None:
    """Deploy datakits to disposable databases and prove they work.

    \b
    Examples:
      dkenv deploy examples/bronze-pagila --validate          # in-memory SQLite
      dkenv deploy examples/bronze-pagila --target postgres_container --validate
      dkenv up postgres --name dev && dkenv deploy ./kit --url "$(dkenv url dev)"
      dkenv check examples/bronze-pagila --static
    """
    _common.DEBUG = _common.DEBUG or debug


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI, turning errors into one sentence and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    if "--debug" in args:
        _common.DEBUG = True
    route_library_noise(_common.DEBUG)
    sys.exit(_common.run(cli, args))


__all__ = ["cli", "main"]
