"""Rows validated through the models, before anything is written.

A table declared by a SQLModel class is validated with pydantic through that class's own
fields (types, ``max_length``, ``ge``...).  SQLModel's ``table=True`` classes do validate in
``model_validate`` but build an ORM instance per row (~35 µs); a plain pydantic model with the
same fields does the same checks in ~4 µs, so that is used unless the class has validators
of its own, which only the class itself runs.  A plain SQLAlchemy table gets a pydantic
model built from its columns: python type, nullability, ``String`` length, enum values.

Keys are checked across every file of a run: primary keys and unique constraints must not
repeat, and a foreign key must point to a row loaded in the run or already in the database.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from dkenv.data.limits import checks_for
from dkenv.errors import DkenvError

#: Bad rows listed in one report; the rest are counted.
MAX_REPORTED = 20


class BadRows(DkenvError):
    """Rows that do not fit their tables; ``problems`` holds every line (up to a limit)."""

    def __init__(self, problems: list[str], total: int) -> None:
        more = f"\n  and {total - len(problems)} more" if total > len(problems) else ""
        noun = "row" if total == 1 else "rows"
        super().__init__(f"{total} bad {noun}; nothing was loaded:\n  " + "\n  ".join(problems) + more,
                         "fix the data files (file:line above) and run the load again")
        self.problems = problems
        self.total = total


class Problems:
    """Collects ``file:line: table.column: what is wrong (value)`` lines up to a limit."""

    def __init__(self, limit: int = MAX_REPORTED) -> None:
        self.limit = limit
        self.lines: list[str] = []
        self.total = 0

    def add(self, where: str, table: str, column: str | None, what: str, value: Any = ...) -> None:
        self.total += 1
        if len(self.lines) < self.limit:
            col = f"{table}.{column}" if column else table
            shown = "" if value is ... else f" ({_short(value)})"
            self.lines.append(f"{where}: {col}: {what}{shown}")

    def raise_if_any(self) -> None:
        if self.total:
            raise BadRows(self.lines, self.total)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------
# A validator per table
# ---------------------------------------------------------------------------
@dataclass
class TableRules:
    """How rows of one table are validated and which keys they must keep."""

    table: Any  # sa.Table
    model: type[BaseModel]
    field_of: dict[str, str]  # column name -> model field name
    columns: list[str]  # column names, table order
    optional: set[str]  # columns a row may leave out (defaults, nullable, autoincrement)
    not_null: set[str]
    keys: list[tuple[str, ...]] = field(default_factory=list)  # primary key and unique column sets
    own_validators: type[BaseModel] | None = None  # a SQLModel class with validators of its own
    defaults: dict[str, Any] = field(default_factory=dict)  # column -> () -> its Python-side default

    def __post_init__(self) -> None:
        self.column_of = {f: c for c, f in self.field_of.items()}
        self._pairs = [(c, self.field_of[c]) for c in self.columns]
        self._plain_enums = {i for i, c in enumerate(self.columns) if not _is_enum_column(self.table.c[c])
                             and _enum_field(self.model, self.field_of[c])}
        self._limits = checks_for(self.table, self.columns)

    @property
    def name(self) -> str:
        return self.table.fullname

    def validate(self, row: dict[str, Any], where: str, problems: Problems) -> tuple[Any, ...] | None:
        """The row's values in column order (None for absent ones), or None after reporting problems."""
        data = {self.field_of[c]: v for c, v in row.items()}
        try:
            obj = self.model.model_validate(data)
            if self.own_validators is not None:
                self.own_validators.model_validate(data)
        except ValidationError as exc:
            reported = 0
            for error in exc.errors(include_url=False):
                loc = error.get("loc") or ()
                fname = str(loc[0]) if loc else None
                column = self.column_of.get(fname, fname)
                if error["type"] == "missing":
                    if column in self.optional:
                        continue  # the class's own validation of a column the database fills
                    problems.add(where, self.name, column, "missing: the column is required (NOT NULL, no default)")
                else:
                    problems.add(where, self.name, column, error["msg"], error.get("input", ...))
                reported += 1
            if reported:
                return None
            obj = self.model.model_validate(data)
        got = obj.__dict__
        values = tuple(got.get(field) if column in row else None for column, field in self._pairs)
        if self.defaults:  # columns the row leaves out that SQLAlchemy would fill on the Python side
            values = tuple(self.defaults[c]() if c in self.defaults and c not in row else v
                           for c, v in zip(self.columns, values))
        if self._limits:
            values = self._within_limits(row, values, where, problems)
            if values is None:
                return None
        if None in values:
            bad = [c for c, v in zip(self.columns, values) if v is None and c in row and c in self.not_null]
            for column in bad:
                problems.add(where, self.name, column, "may not be empty (NOT NULL)", None)
            if bad:
                return None
        if self._plain_enums:  # a Python enum in a column that stores plain strings: store its value
            values = tuple(v.value if i in self._plain_enums and isinstance(v, enum.Enum) else v
                           for i, v in enumerate(values))
        return values


    def _within_limits(self, row: dict[str, Any], values: tuple[Any, ...], where: str,
                       problems: Problems) -> tuple[Any, ...] | None:
        """The values the columns' SQLAlchemy types can hold as given (:mod:`dkenv.data.limits`),
        or None after reporting each that would change."""
        out = list(values)
        bad = False
        for i, column, check in self._limits:
            value = out[i]
            if value is None or column not in row:
                continue  # a Python-side default is the model's own value
            value, problem = check(value, where)
            if problem is None:
                out[i] = value
            else:
                problems.add(where, self.name, column, problem, row[column])
                bad = True
        return None if bad else tuple(out)


def _enum_field(model: type[BaseModel], name: str) -> bool:
    """Whether a field's annotation may hold a Python enum (so values need ``.value``)."""
    info = model.model_fields.get(name)
    if info is None:
        return False
    annotation = info.annotation
    args = typing.get_args(annotation) or (annotation,)
    return any(isinstance(a, type) and issubclass(a, enum.Enum) for a in args)


def _is_enum_column(column: Any) -> bool:
    from sqlalchemy import Enum

    return isinstance(column.type, Enum) and column.type.enum_class is not None


def rules_for(table: Any, cls: type | None) -> TableRules:
    """The validator of ``table``; ``cls`` is its SQLModel class, if it has one."""
    field_of: dict[str, str] = {}
    optional: set[str] = set()
    not_null: set[str] = set()
    for column in table.columns:
        field_of[column.name] = column.key
        if (column.nullable or column.default is not None or column.server_default is not None
                or _autoincrement(column, table)):
            optional.add(column.name)
        if not column.nullable:
            not_null.add(column.name)
    own = None
    if cls is not None and _is_sqlmodel(cls):
        model = _sqlmodel_validator(cls, field_of, optional)
        if _has_validators(cls):
            own = cls
    else:
        model = _columns_model(table, field_of)
    keys: list[tuple[str, ...]] = []
    if table.primary_key.columns:
        keys.append(tuple(c.name for c in table.primary_key.columns))
    for constraint in table.constraints:
        from sqlalchemy import UniqueConstraint

        if isinstance(constraint, UniqueConstraint):
            keys.append(tuple(c.name for c in constraint.columns))
    for column in table.columns:
        if column.unique:
            keys.append((column.name,))
    for index in table.indexes:
        if index.unique and all(hasattr(c, "name") for c in index.expressions):
            keys.append(tuple(c.name for c in index.columns))
    defaults: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if default is not None and default.is_scalar:
            defaults[column.name] = lambda v=default.arg: v
        elif default is not None and default.is_callable:
            defaults[column.name] = lambda f=default.arg: f(None)
    return TableRules(table=table, model=model, field_of=field_of, columns=[c.name for c in table.columns],
                      defaults=defaults,
                      optional=optional, not_null=not_null, keys=list(dict.fromkeys(keys)),
                      own_validators=own)


def _autoincrement(column: Any, table: Any) -> bool:
    return column is table.autoincrement_column or column.identity is not None


def _is_sqlmodel(cls: type) -> bool:
    try:
        from sqlmodel import SQLModel
    except ImportError:  # pragma: no cover - sqlmodel is a dependency
        return False
    return isinstance(cls, type) and issubclass(cls, SQLModel)


def _has_validators(cls: type) -> bool:
    decorators = cls.__pydantic_decorators__  # type: ignore[attr-defined]
    return any(getattr(decorators, kind) for kind in
               ("validators", "field_validators", "root_validators", "model_validators"))


def _sqlmodel_validator(cls: type, field_of: dict[str, str], optional: set[str]) -> type[BaseModel]:
    """A plain pydantic model with the class's fields; columns the database fills may be absent."""
    from pydantic.fields import FieldInfo

    fields: dict[str, Any] = {}
    for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
        fields[name] = (info.annotation, info)
    for column, name in field_of.items():
        if name not in fields:  # a column without a pydantic field (sa_column with another key)
            fields[name] = (Any, None)
        elif column in optional and fields[name][1].is_required():
            annotation, info = fields[name]
            fields[name] = (annotation | None, FieldInfo.merge_field_infos(info, default=None))
    return create_model(f"{cls.__name__}Row", __config__=ConfigDict(extra="ignore"), **fields)  # type: ignore[call-overload]


def _columns_model(table: Any, field_of: dict[str, str]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for column in table.columns:
        annotation = _annotation(column)
        length = getattr(column.type, "length", None)
        constraints = {"max_length": length} if isinstance(length, int) and annotation is str else {}
        if column.nullable:
            annotation = annotation | None
        default = None if (column.nullable or column.default is not None or column.server_default is not None) else ...
        fields[field_of[column.name]] = (annotation, Field(default, **constraints))
    safe = "".join(ch if ch.isalnum() else "_" for ch in table.fullname)
    return create_model(f"{safe}_row", __config__=ConfigDict(extra="ignore"), **fields)


def _annotation(column: Any) -> Any:
    from sqlalchemy import JSON, Enum

    kind = column.type
    if isinstance(kind, Enum):
        if kind.enum_class is not None:
            return kind.enum_class
        return typing.Literal[tuple(kind.enums)] if kind.enums else str
    if isinstance(kind, JSON):
        return Any
    try:
        return kind.python_type
    except NotImplementedError:
        return Any


# ---------------------------------------------------------------------------
# Keys across the files of a run
# ---------------------------------------------------------------------------
#: Keys remembered per constraint.  Beyond it the database's own constraints catch duplicates
#: and orphans (the load still rolls back whole), so memory stays bounded on huge files.
KEY_LIMIT = 200_000

Ref = tuple[str, tuple[str, ...], str, tuple[str, ...]]  # child, its columns, parent, its columns


class Keys:
    """Primary/unique keys seen per table, and foreign-key values to check afterwards."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = KEY_LIMIT if limit is None else limit
        self.seen: dict[tuple[str, tuple[str, ...]], dict[Any, str]] = {}
        self.unique: set[tuple[str, tuple[str, ...]]] = set()
        self.refs: dict[Ref, dict[Any, str]] = {}
        self.parents: dict[Ref, Any] = {}  # ref -> the parent sa.Table (None outside the datakits)
        self.overflow: set[Any] = set()  # constraints (seen keys or refs) left to the database
        self._plans: dict[tuple[str, frozenset[str]], list[tuple]] = {}

    def want(self, table: str, columns: tuple[str, ...], *, unique: bool) -> None:
        self.seen.setdefault((table, columns), {})
        if unique:
            self.unique.add((table, columns))

    def _plan(self, rules: TableRules, present: frozenset[str]) -> list[tuple]:
        """(kind, store, column positions, label...) for every key of the table the row gives."""
        index = {c: i for i, c in enumerate(rules.columns)}
        plan: list[tuple] = []
        for (table, columns), seen in self.seen.items():
            if table == rules.name and present.issuperset(columns):
                unique = (table, columns) in self.unique
                what = ("primary key" if rules.table.primary_key.columns and
                        columns == tuple(c.name for c in rules.table.primary_key.columns) else "unique key")
                plan.append(("key", (table, columns), seen, [index[c] for c in columns], unique, what))
        for fk in rules.table.foreign_key_constraints:
            child = tuple(c.name for c in fk.columns)
            if not present.issuperset(child):
                continue
            parent_cols = tuple(e.target_fullname.rsplit(".", 1)[-1] for e in fk.elements)
            ref = (rules.name, child, _referred_name(fk), parent_cols)
            self.parents.setdefault(ref, _referred_table(fk))
            plan.append(("ref", ref, self.refs.setdefault(ref, {}), [index[c] for c in child]))
        return plan

    def add(self, rules: TableRules, values: tuple, present: Iterable[str], where: str, problems: Problems) -> None:
        present = present if isinstance(present, frozenset) else frozenset(present)
        plan = self._plans.get((rules.name, present))
        if plan is None:
            plan = self._plans[(rules.name, present)] = self._plan(rules, present)
        for step in plan:
            name, store, positions = step[1], step[2], step[3]
            if name in self.overflow:
                continue
            key = values[positions[0]] if len(positions) == 1 else tuple(values[i] for i in positions)
            if key is None or (isinstance(key, tuple) and None in key):
                continue
            first = store.get(key)
            if first is None:
                if len(store) >= self.limit:
                    self.overflow.add(name)
                    store.clear()
                    continue
                store[key] = where
            elif step[0] == "key" and step[4]:
                table, columns = name
                problems.add(where, table, ",".join(columns), f"duplicate {step[5]}, first at {first}", key)

    def parent_keys(self, parent: str, columns: tuple[str, ...]) -> dict[Any, str] | None:
        """Keys of ``parent`` loaded in this run; None when there were too many to remember."""
        if (parent, columns) in self.overflow:
            return None
        return self.seen.get((parent, columns), {})


def _referred_table(fk: Any) -> Any:
    """The parent ``Table`` when the datakits define it (so schema translation applies), else None."""
    try:
        return fk.referred_table
    except Exception:  # noqa: BLE001 - a parent outside the datakits' metadata
        return None


def _referred_name(fk: Any) -> str:
    spec = fk.elements[0].target_fullname
    return spec.rsplit(".", 1)[0]
