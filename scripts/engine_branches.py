"""Count the places outside ``dkenv/engines/`` that branch on an engine's name.

``engines/`` is meant to be the one home of what differs between SQLite, PostgreSQL and MySQL:
callers ask the engine object, they do not compare its name.  This script finds comparisons
whose one side is an engine or dialect name literal -- ``x == "postgres"``, ``x != "sqlite"``,
``x in ("mysql", "mariadb")`` -- and ``match`` cases on such literals, in every module outside
``engines/``.  A comparison explained by a ``# engine-name: why`` comment on its line is listed
but not counted against the limit.

    python scripts/engine_branches.py              # one line per comparison, then the count
    python scripts/engine_branches.py --max 0 --max-explained 10   # make lint: exit 1 above either
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

NAMES = frozenset({"sqlite", "postgres", "postgresql", "mysql", "mariadb", "pg"})
ALLOWED_MARK = "# engine-name:"


def _names_in(node: ast.AST) -> bool:
    """True when the node is an engine-name literal or a literal collection holding one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.lower() in NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_names_in(element) for element in node.elts)
    return False


def branches(path: Path) -> list[int]:
    """Line numbers of the engine-name comparisons in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            if any(_names_in(side) for side in (node.left, *node.comparators)):
                lines.append(node.lineno)
        elif isinstance(node, ast.match_case):
            pattern = node.pattern
            if isinstance(pattern, ast.MatchValue) and _names_in(pattern.value):
                lines.append(pattern.lineno)
    return sorted(lines)


def scan(root: Path) -> tuple[list[tuple[Path, int, str]], list[tuple[Path, int, str]]]:
    """(counted, explained) comparisons in every module under ``root`` but ``engines/``."""
    counted: list[tuple[Path, int, str]] = []
    explained: list[tuple[Path, int, str]] = []
    for path in sorted(root.rglob("*.py")):
        if "engines" in path.relative_to(root).parts:
            continue
        source = path.read_text(encoding="utf-8").splitlines()
        for line in branches(path):
            text = source[line - 1].strip()
            (explained if ALLOWED_MARK in text else counted).append((path, line, text))
    return counted, explained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent / "dkenv"))
    parser.add_argument("--max", type=int, default=None, help="fail above this many unexplained")
    parser.add_argument("--max-explained", type=int, default=None,
                        help="fail above this many explained with '# engine-name:'")
    parser.add_argument("--quiet", action="store_true", help="print only the counts")
    args = parser.parse_args(argv)
    root = Path(args.root)
    counted, explained = scan(root)
    if not args.quiet:
        for path, line, text in counted:
            print(f"{path.relative_to(root.parent)}:{line}: {text}")
    print(f"{len(counted)} engine-name comparisons outside dkenv/engines/ "
          f"({len(explained)} more explained with '{ALLOWED_MARK}')")
    if args.max is not None and len(counted) > args.max:
        print(f"more than {args.max}: ask the engine (dkenv/engines/) instead of comparing its name",
              file=sys.stderr)
        return 1
    if args.max_explained is not None and len(explained) > args.max_explained:
        print(f"more than {args.max_explained} explained comparisons: move the difference into the engine",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
