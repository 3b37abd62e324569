"""The kit-wide half of the source scan: which classes are mapped, once every module is read.

A declarative base is known only after every module has been read (``Base`` usually lives in
``_base.py`` and the tables elsewhere; a mixin of the datakit sits between a library's base and
the tables), so this runs once all sources are scanned.  Each class of a module gets a verdict
from its bases, as written:

* a base of the datakit (``DeclarativeBase`` subclass, ``declarative_base()``, an abstract
  subclass of one), found in the module it is imported from, else by name anywhere in the kit;
* a library's class (``from advanced_alchemy.base import UUIDBase``): asked of the library
  (:mod:`dkenv.datakit.libraries`);
* ``db.Model`` of a module-level ``db = SQLAlchemy()`` (Flask-SQLAlchemy's base, built per
  instance, so no library lookup can see it);
* anything else is undecided: the class counts when its body declares columns.

Each counted class is recorded with why, for ``--verbose``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dkenv.datakit.libraries import installed, library_base
from dkenv.datakit.scan import ModuleScan, _ClassInfo

BASE, MAPPED, PLAIN = "base", "mapped", "plain"
#: Module-level factories whose instance's attribute is a declarative base: factory -> attribute.
_INSTANCE_BASES = {"flask_sqlalchemy.SQLAlchemy": "Model", "flask_sqlalchemy.extension.SQLAlchemy": "Model"}


@dataclass
class _Kit:
    scans: list[ModuleScan]
    external: Callable[[str], bool | None]
    by_module: dict[str, ModuleScan] = field(default_factory=dict)
    verdict: dict[int, tuple[str, str]] = field(default_factory=dict)  # id(class) -> (verdict, why)
    factory_bases: set[str] = field(default_factory=set)  # Base = declarative_base() names
    library_bases: dict[int, str] = field(default_factory=dict)  # id(class) -> dotted library base


def _absolute(scan: ModuleScan, level: int, module: str) -> str:
    """``from .base import X`` in ``kit.models`` -> ``kit.base``."""
    if level == 0:
        return module
    parts = scan.module.split(".") if scan.module else []
    keep = len(parts) - level + (1 if scan.package else 0)
    if keep < 0 or not scan.module:
        return module
    return ".".join([*parts[:keep], *([module] if module else [])])


def _find_class(scans: list[ModuleScan], name: str) -> list[_ClassInfo]:
    return [c for s in scans for c in s.classes if c.name == name]


class _Resolver:
    def __init__(self, kit: _Kit) -> None:
        self.kit = kit
        self.tops = {m.split(".")[0] for m in kit.by_module}  # the datakit's own top-level names

    def base_verdict(self, scan: ModuleScan, expr: str) -> tuple[str | None, str, str | None]:
        """(BASE/MAPPED/PLAIN/None=undecided/"wait", why, library dotted name) for one base as written."""
        head, _, rest = expr.partition(".")
        kit = self.kit
        if not rest:
            local = [c for c in scan.classes if c.name == head]
            if local:
                return self.kit_class(local[-1], head)
            if head in scan.base_names:
                return BASE, "a declarative_base() of the datakit", None
            target = scan.imports.get(head)
            if target is not None:
                level, module, attr = target
                module = _absolute(scan, level, module)
                dotted = f"{module}.{attr}" if attr else module
                return self.imported(scan, level, module, dotted, attr or head, expr)
            return self.kit_name(None, head)
        if head in scan.instances:
            return self.instance_base(scan, head, rest, expr)
        target = scan.imports.get(head)
        if target is not None:
            level, module, attr = target
            module = _absolute(scan, level, module)
            owner = kit.by_module.get(module)
            if attr and owner is not None and attr in owner.instances:  # from .extensions import db
                return self.instance_base(owner, attr, rest, expr)
            dotted = f"{module}.{attr}.{rest}" if attr else f"{module}.{rest}"
            owner_name, _, name = dotted.rpartition(".")
            return self.imported(scan, level, owner_name, dotted, name, expr)
        return None, f"{expr} is not a name the scan can follow", None

    def imported(self, scan: ModuleScan, level: int, module: str, dotted: str, name: str,
                 expr: str) -> tuple[str | None, str, str | None]:
        """A base imported from ``module``: the datakit's own module, else a library, else by name."""
        owner = self.kit.by_module.get(module)
        if owner is not None or level > 0 or module.split(".")[0] in self.tops:
            return self.kit_name(owner, name)
        answer = self.library(dotted, expr)
        if answer[0] is not None:
            return answer
        own = self.kit_name(None, name)  # a flat folder imported without its module names
        return own if own[0] is not None else answer

    def instance_base(self, scan: ModuleScan, name: str, attr: str, expr: str) -> tuple[str | None, str, str | None]:
        """``db.Model`` where ``scan`` binds ``db = SQLAlchemy()``: a base when the factory is known."""
        call = scan.instances[name]
        head, _, rest = call.partition(".")
        target = scan.imports.get(head)
        if target is not None:
            level, module, imported = target
            source = ".".join(p for p in (_absolute(scan, level, module), imported, rest) if p)
            if _INSTANCE_BASES.get(source) == attr:
                return BASE, f"Flask-SQLAlchemy's model base ({name} = {call}())", None
        return None, f"{expr} is an attribute of {name} = {call}()", None

    def library(self, dotted: str, expr: str) -> tuple[str | None, str, str | None]:
        answer = self.kit.external(dotted)
        if answer is True:
            return BASE, f"a declarative base of {dotted.split('.')[0]}", dotted
        if answer is False:
            return PLAIN, f"{expr} is no declarative base", None
        module = dotted.rpartition(".")[0]
        if not installed(module.split(".")[0]):
            return None, f"{expr} comes from {module}, which is not installed", None
        return None, f"{expr} comes from {module}, which the scan cannot look into", None

    def kit_name(self, owner: ModuleScan | None, name: str) -> tuple[str | None, str, str | None]:
        """A name of the datakit: a class or factory base of ``owner``, else by name in any module."""
        if owner is not None:
            local = [c for c in owner.classes if c.name == name]
            if local:
                return self.kit_class(local[-1], name)
            if name in owner.base_names:
                return BASE, "a declarative_base() of the datakit", None
        if name in self.kit.factory_bases:
            return BASE, "a declarative_base() of the datakit", None
        found = _find_class(self.kit.scans, name)
        if found:
            return self.kit_class(found[-1], name)
        return None, f"{name} is not defined in the datakit", None

    def kit_class(self, cls: _ClassInfo, name: str) -> tuple[str | None, str, str | None]:
        verdict = self.kit.verdict.get(id(cls))
        if verdict is None:
            return "wait", "", None
        if verdict[0] == PLAIN or cls.table_kw:  # a SQLModel table's subclasses are models, not tables
            return PLAIN, "", None
        if verdict[0] == "undecided":
            return None, f"{name}: {verdict[1]}", None
        what = "a declarative base" if verdict[0] == BASE else "a mapped class"
        return BASE, f"{what} of the datakit", self.kit.library_bases.get(id(cls))

    def decide(self, scan: ModuleScan, cls: _ClassInfo) -> tuple[str, str] | None:
        """The class's verdict, or None while a base of the datakit is still undecided."""
        if cls.is_base:
            return BASE, "declares a declarative base"
        if cls.direct:
            return MAPPED, "declares its table"
        undecided: list[str] = []
        for expr in cls.base_exprs:
            verdict, why, library = self.base_verdict(scan, expr)
            if verdict == "wait":
                return None
            if verdict == BASE:
                if library:
                    self.kit.library_bases[id(cls)] = library
                if cls.abstract:
                    return BASE, f"abstract; {why}"
                return MAPPED, f"derives from {expr}, {why}"
            if verdict is None:
                undecided.append(why)
        if undecided and cls.columns and not cls.abstract:
            return MAPPED, f"declares columns and {undecided[0]}"
        if undecided:
            return "undecided", undecided[0]
        return PLAIN, ""


def resolve_bases(scans: list[ModuleScan], *, external: Callable[[str], bool | None] = library_base) -> None:
    """Give every class of ``scans`` a verdict and record the mapped ones as declarations.

    ``external(dotted)`` answers for a library's name (True: a declarative base).
    """
    kit = _Kit(scans, external, {s.module: s for s in scans if s.module})
    kit.factory_bases = {name for s in scans for name in s.base_names}
    resolver = _Resolver(kit)
    pending = [(s, c) for s in scans for c in s.classes]
    while pending:
        left = []
        for scan, cls in pending:
            verdict = resolver.decide(scan, cls)
            if verdict is None:
                left.append((scan, cls))
            else:
                kit.verdict[id(cls)] = verdict
        if len(left) == len(pending):  # a cycle of bases (or a base never defined): undecided
            for _scan, cls in left:
                kit.verdict[id(cls)] = ("undecided", "its bases derive from each other")
            break
        pending = left
    for scan in scans:
        for cls in scan.classes:
            verdict, why = kit.verdict[id(cls)]
            if verdict == BASE and cls.name not in scan.base_names:
                scan.base_names.append(cls.name)
            if verdict == "undecided" and not cls.abstract:
                scan.undecided.append((cls.line, f"class {cls.name}: {why}"))
            if verdict == MAPPED and not cls.direct and not cls.abstract:
                scan.declarations.append((cls.line, f"class {cls.name} ({why})"))
                if id(cls) in kit.library_bases:
                    scan.library_bases.append(kit.library_bases[id(cls)])
    factories = {name for s in scans for name in s.factories}
    for s in scans:
        for name in sorted(s.called & factories):
            s.declarations.append((0, f"call of table factory {name}()"))
