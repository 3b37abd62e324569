"""Table-first discovery: find the modules that declare tables by reading their source.

A datakit is usually a whole package — tables next to a CLI, ingestion scripts, notebooks —
and only the tables matter to dkenv.  Importing everything runs code with side effects and
drags in dependencies (typer, pandas) that have nothing to do with the schema.  So before
anything is imported, every module's source is parsed (``ast``, no execution) and only the
modules that *declare* tables are imported afterwards.

What counts as a declaration, at module level (also inside ``try``/``with``/``if``/class bodies):

* a class with ``table=True`` among its keywords (SQLModel);
* a class that assigns ``__tablename__`` or ``__table__`` in its body (SQLAlchemy declarative);
* a class deriving, directly or through the datakit's own classes, from a declarative base:
  one of the datakit's (``class Base(DeclarativeBase)``, ``Base = declarative_base()``,
  ``registry().generate_base()``), one a library ships (advanced-alchemy's ``UUIDBase``, looked
  up in the library itself, see :mod:`dkenv.datakit.libraries`), or Flask-SQLAlchemy's
  ``db.Model`` of a module-level ``db = SQLAlchemy()``; unless ``__abstract__``;
* a class whose base the scan cannot decide (a name from an uninstalled library, a star
  import) when its body declares columns (``Column(``, ``mapped_column(``, ``Mapped[...]``);
* a ``Table(...)`` call (``sa.Table``, ``sqlalchemy.Table``), and any call with ``table=True``
  (``type(name, bases, ns, table=True)``);
* a call to a function of the datakit whose body declares tables (a factory building classes
  into a dict).

What does not count: declarations inside ``if TYPE_CHECKING:`` or ``if __name__ == "__main__":``
and inside functions that are never called at import time.  They are recorded, so that the
"no tables" error and ``--verbose`` can say where they were seen.
The kit-wide half (which names are bases, across modules) is :mod:`dkenv.datakit.resolve`.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

#: Calls whose result is a declarative base class.
_BASE_FACTORIES = {"declarative_base", "generate_base"}
#: In a file that cannot be parsed: text that looks like a table declaration.
_LOOKS_LIKE_TABLE = re.compile(rb"table\s*=\s*True|__tablename__|__table__|\bTable\s*\(|DeclarativeBase|declarative_base"
                               rb"|mapped_column\s*\(|\bColumn\s*\(|Mapped\[")
#: Base classes that make a class a declarative base.
_BASE_CLASSES = {"DeclarativeBase", "DeclarativeBaseNoMeta"}
#: Calls in a class body that declare a column.
_COLUMN_CALLS = {"Column", "mapped_column"}


@dataclass
class _ClassInfo:
    name: str
    bases: list[str]
    line: int
    abstract: bool
    direct: bool  # table=True / __tablename__ / __table__
    is_base: bool  # a declarative base itself
    base_exprs: list[str] = field(default_factory=list)  # the bases as written: "db.Model", "base.UUIDBase"
    columns: bool = False  # its body declares a column (Column(, mapped_column(, Mapped[...])
    table_kw: bool = False  # SQLModel's table=True


@dataclass
class ModuleScan:
    """What the source of one module declares (before any import)."""

    path: Path
    declarations: list[tuple[int, str]] = field(default_factory=list)  # (line, what)
    guarded: list[tuple[int, str]] = field(default_factory=list)  # declarations that do not count
    metadata_names: list[str] = field(default_factory=list)  # X = MetaData(...) at module level
    base_names: list[str] = field(default_factory=list)  # declarative bases defined here
    syntax_error: SyntaxError | None = None
    unparsable_table: bool = False  # a syntax error in a file whose text looks like it declares a table
    classes: list[_ClassInfo] = field(default_factory=list)
    factories: set[str] = field(default_factory=set)  # functions whose body declares tables
    called: set[str] = field(default_factory=set)  # names called at import time
    module: str = ""  # dotted name, when the caller knows it (relative imports resolve against it)
    package: bool = False  # an __init__.py
    imports: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)  # local -> (level, module, attr)
    instances: dict[str, str] = field(default_factory=dict)  # X = f(...) at module level: X -> "f" as written
    library_bases: list[str] = field(default_factory=list)  # libraries' declarative bases its tables use
    undecided: list[tuple[int, str]] = field(default_factory=list)  # classes whose bases the scan cannot tell

    @property
    def declares_tables(self) -> bool:
        return bool(self.declarations)


def _name(node: ast.expr) -> str:
    """The last component of a dotted name (``sa.Table`` -> ``Table``), or ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def _dotted(node: ast.expr) -> str:
    """A base as written (``db.Model``, ``sa_orm.DeclarativeBase``); ``Generic[T]`` -> ``Generic``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    if isinstance(node, ast.Subscript):
        return _dotted(node.value)
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _declares_columns(node: ast.ClassDef) -> bool:
    """Whether a class body declares a column the way mapped classes do."""
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and any(
                isinstance(n, ast.Subscript) and _name(n.value) == "Mapped" for n in ast.walk(item.annotation)):
            return True
        value = item.value if isinstance(item, (ast.Assign, ast.AnnAssign)) else None
        if value is not None and any(_name(c.func) in _COLUMN_CALLS for c in _calls_in(value)):
            return True
    return False


def _is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _calls_in(node: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)]


def _declaring_call(call: ast.Call) -> str | None:
    if _name(call.func) == "Table":
        return "Table(...)"
    if any(k.arg == "table" and _is_true(k.value) for k in call.keywords):
        return "call with table=True"
    return None


def _guard(test: ast.expr) -> str | None:
    """'TYPE_CHECKING' or '__main__' when an ``if`` only runs for type checkers or scripts."""
    if _name(test) == "TYPE_CHECKING":
        return "inside `if TYPE_CHECKING:`"
    if (isinstance(test, ast.Compare) and _name(test.left) == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)):
        return 'inside `if __name__ == "__main__":`'
    return None


class _Scanner:
    def __init__(self, scan: ModuleScan) -> None:
        self.scan = scan

    def body(self, stmts: list[ast.stmt], *, counted: bool, why: str = "", func: str | None = None) -> None:
        for stmt in stmts:
            self.stmt(stmt, counted=counted, why=why, func=func)

    def record(self, line: int, what: str, *, counted: bool, why: str, func: str | None) -> None:
        if counted:
            self.scan.declarations.append((line, what))
        else:
            self.scan.guarded.append((line, f"{what} {why}"))
            if func is not None:
                self.scan.factories.add(func)

    def stmt(self, stmt: ast.stmt, *, counted: bool, why: str, func: str | None) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.body(stmt.body, counted=False, why=f"inside function {stmt.name}()", func=func or stmt.name)
            return
        if isinstance(stmt, ast.ClassDef):
            self.klass(stmt, counted=counted, why=why, func=func)
            return
        if isinstance(stmt, (ast.Import, ast.ImportFrom)) and counted and func is None:
            for alias in stmt.names:
                if isinstance(stmt, ast.Import):
                    local = alias.asname or alias.name.split(".", 1)[0]
                    self.scan.imports[local] = (0, alias.name if alias.asname else local, None)
                elif alias.name != "*":
                    self.scan.imports[alias.asname or alias.name] = (stmt.level, stmt.module or "", alias.name)
            return
        if isinstance(stmt, ast.If):
            guard = _guard(stmt.test)
            if guard and counted:
                self.body(stmt.body, counted=False, why=guard, func=func)
            else:
                self.body(stmt.body, counted=counted, why=why, func=func)
            self.body(stmt.orelse, counted=counted, why=why, func=func)
            return
        if isinstance(stmt, (ast.Try, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)):
            for part in ("body", "orelse", "finalbody"):
                self.body(getattr(stmt, part, []) or [], counted=counted, why=why, func=func)
            for handler in getattr(stmt, "handlers", []):
                self.body(handler.body, counted=counted, why=why, func=func)
            return
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr, ast.AugAssign, ast.Return)) and stmt.value:
            for call in _calls_in(stmt.value):
                what = _declaring_call(call)
                if what:
                    self.record(call.lineno, what, counted=counted, why=why, func=func)
                elif counted and func is None:
                    self.scan.called.add(_name(call.func))
                if counted and func is None and isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                    name = _name(call.func)
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    names = [t.id for t in targets if isinstance(t, ast.Name)]
                    if call is stmt.value:
                        self.scan.instances.update({n: _dotted(call.func) for n in names})
                    if call is stmt.value and name == "MetaData":
                        self.scan.metadata_names.extend(names)
                    elif call is stmt.value and name in _BASE_FACTORIES:
                        self.scan.base_names.extend(names)

    def klass(self, node: ast.ClassDef, *, counted: bool, why: str, func: str | None) -> None:
        bases = [_name(b) for b in node.bases]
        table_kw = any(k.arg == "table" and _is_true(k.value) for k in node.keywords)
        direct = table_kw
        abstract = False
        for item in node.body:
            targets: list[ast.expr] = []
            if isinstance(item, ast.Assign):
                targets = item.targets
            elif isinstance(item, ast.AnnAssign):
                targets = [item.target]
            for t in targets:
                if isinstance(t, ast.Name) and t.id in ("__tablename__", "__table__"):
                    direct = True
                if isinstance(t, ast.Name) and t.id == "__abstract__" and _is_true(item.value):  # type: ignore[union-attr]
                    abstract = True
        is_base = any(b in _BASE_CLASSES for b in bases) or any(
            _name(d) == "as_declarative" for d in node.decorator_list)
        if counted and func is None:
            self.scan.classes.append(_ClassInfo(node.name, bases, node.lineno, abstract, direct and not abstract,
                                                is_base, [_dotted(b) for b in node.bases],
                                                not direct and _declares_columns(node), table_kw))
            if is_base:
                self.scan.base_names.append(node.name)
            if direct and not abstract:
                self.record(node.lineno, f"class {node.name}", counted=True, why="", func=None)
        elif direct and not abstract:
            self.record(node.lineno, f"class {node.name}", counted=False, why=why, func=func)
        # Table(...) in a class body (``__table__ = Table(...)``) was counted via direct already;
        # nested classes are rare but cheap to follow.
        for item in node.body:
            if isinstance(item, ast.ClassDef):
                self.klass(item, counted=counted, why=why, func=func)


def scan_source(path: Path, text: str | bytes | None = None) -> ModuleScan:
    """Parse one module (never import it) and record what it declares.

    The source is read as bytes so that a ``# -*- coding: latin-1 -*-`` cookie is honoured the
    way the import system honours it.
    """
    scan = ModuleScan(path=path)
    try:
        source = text if text is not None else path.read_bytes()
    except OSError as exc:
        scan.syntax_error = SyntaxError(f"cannot read the file: {exc.strerror}")
        scan.syntax_error.filename, scan.syntax_error.lineno = str(path), 1
        scan.unparsable_table = True  # cannot tell: never skip it silently
        return scan
    if not source.strip():
        return scan
    try:
        with warnings.catch_warnings():  # invalid escapes etc.: the author's business, not ours
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        scan.syntax_error = exc
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        scan.syntax_error = SyntaxError(f"cannot parse the file: {exc}")
        scan.syntax_error.filename, scan.syntax_error.lineno = str(path), 1
    if scan.syntax_error is not None:
        raw = source.encode() if isinstance(source, str) else source
        scan.unparsable_table = bool(_LOOKS_LIKE_TABLE.search(raw))
        return scan
    _Scanner(scan).body(tree.body, counted=True)
    return scan
