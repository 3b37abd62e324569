"""The one datakit loader: paths (or Datakits) → Datakits, each path imported once per process.

Every job loads its datakits here — ``dkenv deploy``/``validate``/``load``/``check``,
``dkenv migrations check``, environments and the pytest plugin's isolated databases.  A datakit
is discovered (:func:`dkenv.datakit.discovery.load_datakit`) the first time its path is asked
for and handed back from the cache after that, keyed by its resolved path and the folders put
on ``sys.path`` for it (``pythonpath``, ``DKENV_PYTHONPATH``, the plugin's ``dkenv_pythonpath``).
The same Datakit object means the same tables, so a pool or template keyed by a datakit set is
found again, and nothing is imported twice.

A process sees a datakit as it was when first loaded; :func:`forget_datakits` empties the cache
(a long-running process whose datakits changed on disk).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from dkenv.datakit.discovery import Datakit, check_path, extra_folders, load_datakit
from dkenv.errors import DatakitError, UsageError

__all__ = ["datakit_of", "forget_datakits", "load_datakits"]

#: (resolved path, resolved pythonpath folders) → the Datakit discovered there.
_CACHE: dict[tuple[Path, tuple[Path, ...]], Datakit] = {}
# Held while discovering: two threads asking for one path import it once.
_CACHE_LOCK = threading.Lock()

Item = str | Path | Datakit


def load_datakits(items: Item | Iterable[Item], *, pythonpath: Sequence[str | Path] = (),
                  progress: Callable[[str], None] | None = None, requires: bool = True) -> list[Datakit]:
    """The datakits for ``items`` (paths, or Datakits passed through), each path imported once.

    ``requires=True`` (the commands): in deploy order, each once, with the datakits they
    ``require`` first — ``dkenv deploy silver`` deploys the bronze datakit silver requires before
    it, unless bronze is given as well (then it is loaded once, still before silver); ``progress``
    hears which datakit pulled in which.  ``requires=False``: exactly the items, in the order given.

    Raises :class:`UsageError` for no items or an item that is neither a path nor a Datakit,
    :class:`DatakitError` for a path discovery refuses and for ``requires`` in a cycle.
    """
    if isinstance(items, (str, Path, Datakit)):
        items = [items]
    items = list(items)
    for item in items:
        if not isinstance(item, (str, Path, Datakit)):
            raise UsageError(f"expected a datakit path or Datakit, got {type(item).__name__}",
                             "pass datakits=[path_or_Datakit, ...]")
    if not items:
        raise UsageError("no datakits given", "pass datakits=[path, ...] (bronze before silver)")
    if not requires:
        return [item if isinstance(item, Datakit) else _load(item, pythonpath) for item in items]
    return _in_deploy_order(items, pythonpath, progress)


def datakit_of(obj: Datakit | str | Path, *, pythonpath: Sequence[str | Path] = ()) -> Datakit:
    """A Datakit as it is, or the (cached) datakit at a path; TypeError for anything else."""
    if isinstance(obj, Datakit):
        return obj
    if isinstance(obj, (str, Path)):
        return _load(obj, pythonpath)
    raise TypeError(f"expected a Datakit or a path, got {type(obj).__name__}")


def forget_datakits() -> None:
    """Empty the cache: the next load of every path discovers it again."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _load(path: str | Path, pythonpath: Sequence[str | Path]) -> Datakit:
    """The datakit at ``path``, discovered on first use (errors word ``path`` as it was given)."""
    key = (check_path(path), tuple(extra_folders(pythonpath)))
    with _CACHE_LOCK:
        kit = _CACHE.get(key)
        if kit is None:
            kit = _CACHE[key] = load_datakit(path, pythonpath=pythonpath)
    return kit


def _in_deploy_order(items: list[Item], pythonpath: Sequence[str | Path],
                     progress: Callable[[str], None] | None) -> list[Datakit]:
    loaded: dict[Path, Datakit] = {}
    order: list[Datakit] = []

    def visit(item: Item, chain: tuple[Path, ...]) -> None:
        key = item.path if isinstance(item, Datakit) else check_path(item)
        if key in loaded:
            return
        if key in chain:
            cycle = " -> ".join(p.name for p in (*chain, key))
            raise DatakitError(f"datakits require each other in a cycle: {cycle}",
                               "remove one of the requires entries; requires lists datakits this one builds on")
        kit = item if isinstance(item, Datakit) else _load(key, pythonpath)
        for required in kit.requires:
            if progress is not None and required not in loaded:
                progress(f"dkenv: {kit.name} requires {required.name} ({kit.settings.where('requires')})")
            visit(required, (*chain, key))
        loaded[key] = kit
        order.append(kit)

    for item in items:
        visit(item, ())
    return order
