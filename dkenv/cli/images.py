"""``dkenv image build|ls``: dkenv's own database images, for machines that cannot pull.

Thin wrappers over :mod:`dkenv.docker.images`; its ImageBuildError becomes ImageUnavailable
(exit 3).  Nothing heavy is imported at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from dkenv.cli._common import emit_json, err, usage
from dkenv.cli._stdout import out


@contextmanager
def _image_errors() -> Iterator[None]:
    from dkenv.docker.images import ImageBuildError
    from dkenv.errors import ImageUnavailable

    try:
        yield
    except ImageBuildError as exc:
        raise ImageUnavailable(exc.message, exc.hint) from None


@click.group()
def image() -> None:
    """Build and list dkenv's own PostgreSQL and MySQL (MariaDB) images.

    They honour the official images' environment (POSTGRES_*, MYSQL_*), so `--image` and
    DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE can point at them where no registry is reachable.

    \b
    Examples:
      dkenv image build postgres
      DKENV_POSTGRES_IMAGE="$(dkenv image build postgres | tail -n1)" dkenv up postgres
    """


@image.command()
@click.argument("engine", metavar="ENGINE")
@click.option("--tag", metavar="TAG", help="Image tag (default: dkenv/postgres:15, dkenv/mysql:mariadb-10.11).")
@click.option("--rebuild", is_flag=True, help="Build again even if the image exists (no layer cache).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def build(engine: str, tag: str | None, rebuild: bool, as_json: bool) -> None:
    """Build the image for ENGINE (postgres or mysql); print its tag as the last stdout line.

    An existing image is reused unless --rebuild.  Build output goes to stderr.

    \b
    Example:
      dkenv image build mysql --rebuild
      dkenv image build postgres --json | jq -r .tag
    """
    from dkenv.docker.client import get_client
    from dkenv.docker.images import build_image
    from dkenv.engines import SERVER_ENGINES, get_engine

    name = get_engine(engine).name
    if name not in SERVER_ENGINES:
        raise usage(f"dkenv builds no image for {name}", "use postgres or mysql")
    progress: Callable[[str], None] = err
    with _image_errors():
        result = build_image(get_client(), name, tag=tag, rebuild=rebuild, progress=progress)
    if as_json:
        emit_json({"success": True, "engine": name, "tag": result})
    else:
        out(result)


@image.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def ls_images(as_json: bool) -> None:
    """List the images dkenv built (tag, engine, size, created).

    \b
    Example:
      dkenv image ls --json
    """
    from dkenv.docker.client import get_client
    from dkenv.docker.images import list_images

    with _image_errors():
        rows: list[dict[str, Any]] = list_images(get_client())
    if as_json:
        emit_json(rows)
        return
    if not rows:
        err("dkenv: no dkenv images (build one with: dkenv image build postgres)")
        return
    table = [("TAG", "ENGINE", "SIZE", "CREATED")] + [
        (r["tag"], r.get("engine") or "-", _size(r.get("size")), str(r.get("created") or "-")[:19])
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        out("  ".join([*(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)), row[3]]))


def _size(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value / 1e6:.0f} MB"
