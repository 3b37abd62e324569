"""Build dkenv's own database images, for machines that cannot pull the official ones.

The build contexts live in ``compose/images/<engine>/`` at the root of the repository. They make
images that honour the official ``postgres`` / ``mysql`` images' contract (environment variables,
ports, ``/docker-entrypoint-initdb.d``), from Debian's own packages, so that third-party tools
such as testcontainers work with them unchanged.

The images build ``FROM`` a Debian 12 base: ``debian:bookworm-slim`` when it is present locally or
can be pulled; otherwise dkenv makes its own base, :data:`BASE_TAG`, with ``mmdebstrap`` (which uses
the host's apt sources) streamed into the engine's image import. Everything goes through the
Docker SDK (``client`` is a ``docker.DockerClient``), except ``mmdebstrap`` itself.

Public API (the CLI's ``dkenv image build ENGINE`` / ``dkenv image ls`` call these):

* :func:`build_image` -- build (or reuse) the image for ``"postgres"`` or ``"mysql"``; returns its tag;
* :func:`image_exists`, :func:`list_images`, :func:`ensure_base_image`;
* :class:`ImageBuildError` -- every failure, with a message and a hint.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dkenv.errors import ImageUnavailable

#: The tags of the images that dkenv builds, by engine.
LOCAL_TAGS: dict[str, str] = {
    "postgres": "dkenv/postgres:15",
    "mysql": "dkenv/mysql:mariadb-10.11",
}
#: dkenv's own Debian 12 base image, made with mmdebstrap when debian:bookworm-slim is unavailable.
BASE_TAG = "dkenv/debian-base:bookworm"
#: The upstream base image, used when present or pullable.
UPSTREAM_BASE = "debian:bookworm-slim"

#: Labels on every image dkenv builds (also written as LABEL in the Dockerfiles).
LABEL_MANAGED = "dkenv.managed"
LABEL_ENGINE = "dkenv.engine"
LABEL_CONTEXT = "dkenv.context-sha256"

#: Environment overrides: the directory holding the build contexts, and the base image to use.
ENV_IMAGES_DIR = "DKENV_IMAGES_DIR"
ENV_BASE_IMAGE = "DKENV_BASE_IMAGE"

MMDEBSTRAP_ARGS = [
    "--variant=minbase",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-include=/usr/share/locale/locale.alias",
    "--aptopt=APT::Install-Recommends false",
]

Progress = Callable[[str], None]

_TAIL_LINES = 25
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ImageBuildError(ImageUnavailable):
    """An image could not be built (or its base could not be made). ``hint`` says what to do."""


# --------------------------------------------------------------------------------------------
# Build contexts


def images_dir() -> Path:
    """The directory holding one build context per engine (``compose/images`` in the repo)."""
    override = os.environ.get(ENV_IMAGES_DIR)
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "compose" / "images"


def build_context(engine: str) -> Path:
    """The build context of ``engine``; raises :class:`ImageBuildError` if it is missing."""
    _check_engine(engine)
    ctx = images_dir() / engine
    if not (ctx / "Dockerfile").is_file():
        raise ImageBuildError(
            f"no build context for the {engine} image: {ctx}/Dockerfile does not exist",
            hint=(
                "run dkenv from a checkout of its repository (the contexts live in "
                f"compose/images/), or point {ENV_IMAGES_DIR} at a copy of compose/images"
            ),
        )
    return ctx


def context_digest(ctx: Path) -> str:
    """A SHA-256 over the files of a build context (names and contents), to tell stale images."""
    h = hashlib.sha256()
    for path in sorted(p for p in ctx.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(ctx)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _check_engine(engine: str) -> None:
    if engine not in LOCAL_TAGS:
        raise ImageBuildError(
            f"unknown engine {engine!r}: dkenv builds images for {', '.join(sorted(LOCAL_TAGS))}",
            hint="use `dkenv image build postgres` or `dkenv image build mysql`",
        )


# --------------------------------------------------------------------------------------------
# Queries


def image_exists(client: Any, tag: str) -> bool:
    """Whether the engine has an image called ``tag`` (or with that id)."""
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:  # e.g. an invalid reference
        if getattr(exc, "status_code", None) in (400, 404):
            return False
        raise
    return True


def _context_label(client: Any, tag: str) -> str | None:
    """The build-context digest an existing image of dkenv's was built from (None: not dkenv's)."""
    labels = client.images.get(tag).labels or {}
    return labels.get(LABEL_CONTEXT) if labels.get(LABEL_MANAGED) == "true" else None


def list_images(client: Any) -> list[dict[str, Any]]:
    """dkenv-built images (label ``dkenv.managed=true``), one entry per tag, sorted by tag.

    Each entry: ``tag``, ``id`` (short), ``size`` (bytes), ``created`` (ISO-8601 string, as the
    engine reports it), ``engine`` (``postgres``/``mysql``/``base``), ``context`` (the digest of
    the build context it was built from, or None).
    """
    rows: list[dict[str, Any]] = []
    for image in client.images.list(filters={"label": f"{LABEL_MANAGED}=true"}):
        attrs = image.attrs
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        for tag in image.tags or ["<none>:<none>"]:
            rows.append(
                {
                    "tag": tag,
                    "id": image.short_id.removeprefix("sha256:"),
                    "size": attrs.get("Size"),
                    "created": attrs.get("Created"),
                    "engine": labels.get(LABEL_ENGINE),
                    "context": labels.get(LABEL_CONTEXT),
                }
            )
    rows.sort(key=lambda r: r["tag"])
    return rows


# --------------------------------------------------------------------------------------------
# Base image


def ensure_base_image(client: Any, progress: Progress | None = None) -> str:
    """Return the tag of a Debian 12 base image, making one if needed.

    In order: ``$DKENV_BASE_IMAGE`` if set (must exist or be pullable); ``debian:bookworm-slim``
    if present locally or pullable; :data:`BASE_TAG` if present; else :data:`BASE_TAG` is made
    with ``mmdebstrap`` (about 40 s; needs root, mmdebstrap and the Debian archive).
    """
    say = progress or (lambda _line: None)
    override = os.environ.get(ENV_BASE_IMAGE)
    if override:
        if image_exists(client, override) or _try_pull(client, override, say):
            return override
        raise ImageBuildError(
            f"the base image {override} (from {ENV_BASE_IMAGE}) is neither present nor pullable",
            hint=f"unset {ENV_BASE_IMAGE} to let dkenv make its own Debian base with mmdebstrap",
        )
    if image_exists(client, UPSTREAM_BASE):
        return UPSTREAM_BASE
    if image_exists(client, BASE_TAG):
        return BASE_TAG
    if _try_pull(client, UPSTREAM_BASE, say):
        return UPSTREAM_BASE
    make_base_image(client, progress=progress)
    return BASE_TAG


def _try_pull(client: Any, ref: str, say: Progress) -> bool:
    import docker.errors

    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    say(f"pulling {ref} ...")
    try:
        client.images.pull(repo, tag=tag)
    except docker.errors.APIError as exc:
        say(f"cannot pull {ref} ({_short_api_error(exc)}); continuing without it")
        return False
    return image_exists(client, ref)


def make_base_image(client: Any, *, tag: str = BASE_TAG, progress: Progress | None = None) -> str:
    """Make a minimal Debian 12 image with ``mmdebstrap`` and import it as ``tag``.

    mmdebstrap writes a tarball on stdout, which is streamed into the engine's import endpoint
    (``client.api.import_image_from_stream``): nothing is written to disk on the way. With no
    mirror argument, mmdebstrap uses the host's own apt sources.
    """
    import docker.errors

    say = progress or (lambda _line: None)
    exe = shutil.which("mmdebstrap")
    if exe is None:
        raise ImageBuildError(
            f"cannot make the base image {tag}: mmdebstrap is not installed, and "
            f"{UPSTREAM_BASE} is neither present nor pullable",
            hint="install it (apt-get install mmdebstrap, or run scripts/docker-engine.sh), "
            f"or load a Debian 12 image and name it with {ENV_BASE_IMAGE}",
        )
    cmd = [exe, *MMDEBSTRAP_ARGS, "bookworm", "-"]
    say(f"making the base image {tag} with mmdebstrap (about 40 s) ...")
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise ImageBuildError(f"cannot run mmdebstrap: {exc}", hint="is it installed?") from exc

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            tail.append(line)
            say(f"mmdebstrap: {line}")

    reader = threading.Thread(target=pump_stderr, name="mmdebstrap-stderr", daemon=True)
    reader.start()

    def chunks() -> Iterator[bytes]:
        assert proc.stdout is not None
        while True:
            data = proc.stdout.read(1 << 20)
            if not data:
                return
            yield data

    result: Any = None
    import_error: Exception | None = None
    repo, _, version = tag.rpartition(":")
    try:
        result = client.api.import_image_from_stream(
            chunks(),
            repository=repo,
            tag=version,
            changes=[
                'CMD ["bash"]',
                f"LABEL {LABEL_MANAGED}=true {LABEL_ENGINE}=base",
            ],
        )
    except (docker.errors.APIError, OSError) as exc:
        import_error = exc
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        if import_error is not None and proc.poll() is None:
            proc.kill()
        rc = proc.wait()
        reader.join(timeout=5)

    if rc != 0:
        raise ImageBuildError(
            f"mmdebstrap failed (exit {rc}) making the base image {tag}:\n" + _indent(tail),
            hint="mmdebstrap needs root and the Debian archive through the host's apt sources "
            "(check `apt-get update` works)",
        )
    if import_error is not None:
        raise ImageBuildError(
            f"the Docker engine did not import the base image {tag}: {import_error}",
            hint="check the engine (`docker info`) and its free disk space",
        )
    if not image_exists(client, tag):
        raise ImageBuildError(
            f"the Docker engine did not import the base image {tag}: {str(result)[-300:]}",
            hint="check the engine's log and free disk space",
        )
    say(f"made the base image {tag}")
    return tag


# --------------------------------------------------------------------------------------------
# Building


def build_image(
    client: Any,
    engine: str,
    *,
    tag: str | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> str:
    """Build dkenv's image for ``engine`` (``"postgres"`` or ``"mysql"``) and return its tag.

    If the image already exists, was built from the build context as it is now (its
    ``dkenv.context`` label) and ``rebuild`` is false, return at once; one built from an older
    context (a dkenv upgrade changed a setting) is built again, with the layer cache.  To build,
    make sure a Debian base exists (:func:`ensure_base_image`), then build ``compose/images/<engine>/`` with
    ``BASE`` as a build argument; ``rebuild`` also disables the layer cache. Each line of the
    build log goes to ``progress`` (the CLI prints them on stderr). On failure raises
    :class:`ImageBuildError` with the last lines of the log.
    """
    import docker.errors

    _check_engine(engine)
    tag = tag or LOCAL_TAGS[engine]
    say = progress or (lambda _line: None)
    if not rebuild and image_exists(client, tag):
        try:
            ctx = build_context(engine)
        except ImageBuildError:  # installed without the contexts: the image is what there is
            return tag
        built_from = _context_label(client, tag)
        if built_from is None or built_from == context_digest(ctx):
            return tag  # current, or not one of dkenv's builds (a tag the user chose)
        say(f"{tag} was built from an older build context: building it again")
    else:
        ctx = build_context(engine)

    base = ensure_base_image(client, progress=progress)
    digest = context_digest(ctx)
    say(f"building {tag} from {ctx} (base {base}) ...")

    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    error: str | None = None
    image_id: str | None = None
    try:
        stream = client.api.build(
            path=str(ctx),
            tag=tag,
            buildargs={"BASE": base},
            labels={LABEL_MANAGED: "true", LABEL_ENGINE: engine, LABEL_CONTEXT: digest},
            decode=True,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=rebuild,
        )
        for chunk in stream:
            if "stream" in chunk:
                for line in _ANSI.sub("", str(chunk["stream"])).splitlines():
                    line = line.rstrip()
                    if line:
                        tail.append(line)
                        say(line)
            if "status" in chunk:  # pulls/extractions the builder reports
                line = str(chunk["status"]).rstrip()
                if line:
                    tail.append(line)
                    say(line)
            if "aux" in chunk and isinstance(chunk["aux"], dict):
                image_id = chunk["aux"].get("ID", image_id)
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                error = str(chunk.get("error") or detail.get("message") or chunk).strip()
                tail.append(error)
                say(error)
    except docker.errors.APIError as exc:
        error = _short_api_error(exc)
    except (OSError, docker.errors.DockerException) as exc:
        error = str(exc)

    if error is not None:
        raise ImageBuildError(
            f"building the {engine} image {tag} failed: {error}\nlast lines of the build log:\n"
            + _indent(tail),
            hint=(
                "the build needs the Debian archive (apt-get runs inside it); fix the cause "
                f"above and run `dkenv image build {engine}` again"
            ),
        )
    if not image_exists(client, tag):
        raise ImageBuildError(
            f"building the {engine} image {tag} reported success but the image is missing"
            + (f" (id {image_id})" if image_id else ""),
            hint=f"run `dkenv image build {engine}` again; check the engine's log",
        )
    say(f"built {tag}")
    return tag


def _short_api_error(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


def _indent(lines: Any) -> str:
    lines = list(lines)
    return "\n".join(f"  {line}" for line in lines) if lines else "  (no output)"
