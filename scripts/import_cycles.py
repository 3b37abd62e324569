"""Fail when any dkenv module imports itself back, directly or through others.

import-linter's layers contract keeps whole layers pointing down; this catches what it cannot
see: a cycle between two modules of one layer or one package.  Imports inside functions and
under ``TYPE_CHECKING`` count too (grimp, which import-linter builds on, reads every import).

    python scripts/import_cycles.py          # exit 1 and one line per cycle found
"""

from __future__ import annotations

import sys

import grimp


def cycles(package: str = "dkenv") -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    graph = grimp.build_graph(package)
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i.startswith(package))
             for m in graph.modules if m.startswith(package)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def main() -> int:
    found = cycles()
    for group in found:
        print("import cycle: " + " <-> ".join(group), file=sys.stderr)
    if found:
        print(f"{len(found)} import cycle(s) in dkenv: make the lower module stop importing the "
              "higher one (see docs/architecture.md)", file=sys.stderr)
        return 1
    print("no import cycles in dkenv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
