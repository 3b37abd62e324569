"""Data files: find them in data directories and stream their rows with line numbers.

A data directory holds one file per table, ``<table>.<ext>`` or ``<schema>.<table>.<ext>``,
where ``<ext>`` is ``csv``, ``json`` or ``jsonl``.  Every reader is a generator of
``(line, row)`` pairs that holds one row (one JSON object) in memory at a time, so a 1 GB
file costs no more memory than a small one.

CSV rule (the same as PostgreSQL's ``COPY ... CSV``): the header names the columns; an
empty *unquoted* field is NULL (``None``), a quoted empty field ``""`` is the empty string.
Python 3.11's :mod:`csv` cannot tell those two apart, so rows that hold an empty field are
re-read from their raw text (rare, and only those rows).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkenv.errors import UsageError

#: What data files are read with unless ``--encoding`` says otherwise: UTF-8, past a byte-order mark.
DEFAULT_ENCODING = "utf-8-sig"

#: File extensions that hold data; other files in a data directory (README.md) are ignored.
EXTENSIONS = ("csv", "json", "jsonl")

Row = dict[str, Any]


class DataFileError(UsageError):
    """A data file cannot be read: malformed CSV/JSON, a header that does not fit."""


@dataclass(frozen=True)
class DataFile:
    """One data file and the table it fills (``schema`` is None for ``<table>.<ext>``)."""

    path: Path
    table: str
    schema: str | None
    ext: str
    encoding: str = DEFAULT_ENCODING

    @property
    def fullname(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def __str__(self) -> str:
        return str(self.path)

    def rows(self) -> Iterator[tuple[int, Row]]:
        """``(line, row)`` pairs, streamed."""
        reader = {"csv": read_csv, "json": read_json, "jsonl": read_jsonl}[self.ext]
        try:
            yield from reader(self.path, self.encoding)
        except UnicodeDecodeError as exc:
            raise decode_error(self.path, self.encoding, exc) from None

    def columns(self) -> list[str] | None:
        """The CSV header (None for JSON files, whose keys vary per object)."""
        if self.ext != "csv":
            return None
        try:
            with self.path.open(newline="", encoding=self.encoding) as fh:
                try:
                    return next(csv.reader(fh, strict=True))
                except StopIteration:
                    return []
                except csv.Error as exc:
                    raise DataFileError(f"{self.path}:1: malformed CSV header: {exc}") from None
        except UnicodeDecodeError as exc:
            raise decode_error(self.path, self.encoding, exc) from None


def check_encoding(encoding: str | None) -> str:
    """The codec to read data files with: UTF-8 (any spelling) reads past a byte-order mark;
    an unknown name is a UsageError (exit 2)."""
    if not encoding:
        return DEFAULT_ENCODING
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r}",
                         "give a Python codec name: utf-8, latin-1, cp1252, utf-16...") from None
    return DEFAULT_ENCODING if name == "utf-8" else name


def decode_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> DataFileError:
    """``file:line: not valid <encoding> text`` for the first line that does not decode.

    The decoder reads blocks, so ``exc`` knows a position in a block, not a line: the file is
    scanned again line by line (bytes) to find it.  Only for encodings where a newline byte is
    always a newline (UTF-8, single-byte codecs); others are reported without a line.
    """
    line: int | None = None
    column = 0
    if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") or _single_byte(encoding):
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, start=1):
                try:
                    raw.decode(encoding)
                except UnicodeDecodeError as bad:
                    line, column = number, bad.start + 1
                    break
    where = f"{path}:{line}" if line else str(path)
    byte = exc.object[exc.start:exc.start + 1].hex()
    at = f" (byte 0x{byte} at column {column})" if line else f" (byte 0x{byte})"
    shown = "UTF-8" if encoding == DEFAULT_ENCODING else encoding
    return DataFileError(f"{where}: not valid {shown} text{at}",
                         "give the file's encoding, e.g. --encoding latin-1 (or cp1252), or save it as UTF-8")


def _single_byte(encoding: str) -> bool:
    try:
        return len("\n".encode(encoding)) == 1 and codecs.lookup(encoding).name not in ("utf-7",)
    except (LookupError, UnicodeEncodeError):
        return False


def find_files(dirs: Iterable[str | Path], encoding: str = DEFAULT_ENCODING) -> list[DataFile]:
    """The data files of ``dirs``, directory by directory, sorted by name within each; a directory
    given twice counts once.  ``encoding`` is what their text is read with."""
    found: list[DataFile] = []
    seen: set[Path] = set()
    for d in dirs:
        directory = Path(d).expanduser()
        if not directory.is_dir():
            what = "does not exist" if not directory.exists() else "is not a directory"
            raise UsageError(f"data directory {str(d)!r} {what}",
                             "give a directory of <table>.csv / .json / .jsonl files")
        if directory.resolve() in seen:
            continue  # named twice (a datakit's own data and --data): loaded once
        seen.add(directory.resolve())
        for path in sorted(directory.iterdir(), key=lambda p: p.name):
            if path.name.startswith(".") or not path.is_file():
                continue
            stem, _, ext = path.name.rpartition(".")
            if ext.lower() not in EXTENSIONS or not stem:
                continue
            schema, _, table = stem.rpartition(".")
            found.append(DataFile(path=path, table=table, schema=schema or None, ext=ext.lower(),
                                  encoding=encoding))
    return found


_HASHES: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


def content_hash(dirs: Iterable[str | Path]) -> str:
    """A digest of the data files of ``dirs`` (names and bytes): part of a template's key, so
    changed data gets a new template.  Per-file digests are cached by (path, mtime, size)."""
    outer = hashlib.sha256()
    for file in find_files(dirs):
        stat = file.path.stat()
        key = (str(file.path.resolve()), stat.st_mtime_ns, stat.st_size)
        with _HASH_LOCK:
            digest = _HASHES.get(key)
        if digest is None:
            inner = hashlib.sha256()
            with file.path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    inner.update(block)
            digest = inner.hexdigest()
            with _HASH_LOCK:
                _HASHES[key] = digest
        outer.update(f"{file.fullname}.{file.ext}\0{digest}\n".encode())
    return outer.hexdigest()[:16]


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------
class _Lines:
    """Feeds the csv reader line by line and remembers the raw text of the current record."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.consumed = 0  # lines handed out so far
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._fh)
        self.consumed += 1
        self.record.append(line)
        return line


def _quoted_flags(raw: str, delimiter: str = ",", quote: str = '"') -> list[bool]:
    """Which fields of one raw CSV record were quoted (RFC 4180 quoting)."""
    flags: list[bool] = []
    i, n = 0, len(raw)
    while True:
        if i < n and raw[i] == quote:
            flags.append(True)
            i += 1
            while i < n:
                if raw[i] == quote:
                    if i + 1 < n and raw[i + 1] == quote:
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
        else:
            flags.append(False)
        while i < n and raw[i] != delimiter:
            i += 1
        if i >= n:
            return flags
        i += 1  # the delimiter


def read_csv(path: Path, encoding: str = DEFAULT_ENCODING) -> Iterator[tuple[int, Row]]:
    """Rows of a CSV file as dicts of strings (None for an empty unquoted field)."""
    with path.open(newline="", encoding=encoding) as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataFileError(f"{path}:1: malformed CSV header: {exc}") from None
        width = len(header)
        while True:
            start = lines.consumed + 1
            lines.record.clear()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataFileError(f"{path}:{start}: malformed CSV: {exc}",
                                    "close the quote (a quote inside a quoted field is written twice: \"\")"
                                    ) from None
            if not fields:
                continue  # a blank line
            if len(fields) != width:
                raise DataFileError(f"{path}:{start}: {len(fields)} fields, but the header names {width} columns",
                                    "every line needs one field per header column (quote fields holding commas)")
            if "" in fields:
                raw = "".join(lines.record)
                flags = _quoted_flags(raw.rstrip("\r\n")) if '"' in raw else ()
                fields = [None if (v == "" and not (i < len(flags) and flags[i])) else v
                          for i, v in enumerate(fields)]
            yield start, dict(zip(header, fields))


# ---------------------------------------------------------------------------
# JSON and JSON Lines
# ---------------------------------------------------------------------------
_CHUNK = 1 << 16
#: A JSON object bigger than this is not a row: stop reading instead of buffering the file.
_MAX_OBJECT = 64 << 20


def read_jsonl(path: Path, encoding: str = DEFAULT_ENCODING) -> Iterator[tuple[int, Row]]:
    """One object per line; blank lines are skipped."""
    with path.open(encoding=encoding) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{path}:{number}: malformed JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(value, dict):
                raise DataFileError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}",
                                    "a .jsonl file holds one {\"column\": value, ...} object per line")
            yield number, value


def read_json(path: Path, encoding: str = DEFAULT_ENCODING) -> Iterator[tuple[int, Row]]:
    """The objects of a JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    with path.open(encoding=encoding) as fh:
        buf = ""
        line = 1  # line number at buf[0]
        pos = 0
        eof = False

        def fill() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = fh.read(_CHUNK)
            if not chunk:
                eof = True
                return False
            buf = buf[pos:] + chunk
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos, line
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    if buf[pos] == "\n":
                        line += 1
                    pos += 1
                if pos < len(buf) or not fill():
                    return

        def fail(message: str, hint: str | None = None) -> DataFileError:
            return DataFileError(f"{path}:{line}: {message}",
                                 hint or "a .json data file holds one array of objects: [{\"column\": value}, ...]")

        skip_ws()
        if pos >= len(buf):
            return  # an empty file: no rows
        if buf[pos] != "[":
            raise fail("expected a JSON array of objects")
        pos += 1
        first = True
        while True:
            skip_ws()
            if pos >= len(buf):
                raise fail("the JSON array is not closed")
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    raise fail(f"expected ',' or ']', found {buf[pos]!r}")
                pos += 1
                skip_ws()
            first = False
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    if end >= len(buf) and not eof and fill():
                        continue  # a number may go on in the next chunk
                    break
                except json.JSONDecodeError as exc:
                    if len(buf) - pos < _MAX_OBJECT and fill():
                        continue
                    raise fail(f"malformed JSON: {exc.msg}") from None
            if not isinstance(value, dict):
                raise fail(f"expected a JSON object, got {type(value).__name__}")
            yield line, value
            line += buf.count("\n", pos, end)
            pos = end
