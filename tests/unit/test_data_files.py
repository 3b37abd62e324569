"""Data file readers and row rules, without a database."""

from __future__ import annotations

import json

import pytest

from dkenv.data import files
from dkenv.data.files import DataFileError, find_files, read_csv, read_json, read_jsonl
from dkenv.data.rows import Problems, rules_for


def test_find_files_names_tables_and_schemas(tmp_path):
    for name in ("b.csv", "s.a.json", "c.jsonl", "README.md", ".hidden.csv"):
        (tmp_path / name).write_text("")
    found = [(f.schema, f.table, f.ext) for f in find_files([tmp_path])]
    assert found == [(None, "b", "csv"), (None, "c", "jsonl"), ("s", "a", "json")]


def test_csv_null_versus_empty_string_and_multiline_fields(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,,""\n"two\nlines",x,\n"",,"q""uote"\n')
    assert list(read_csv(path)) == [
        (2, {"a": "1", "b": None, "c": ""}),
        (3, {"a": "two\nlines", "b": "x", "c": None}),
        (5, {"a": "", "b": None, "c": 'q"uote'}),
    ]


def test_csv_field_count_must_match_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataFileError, match=r"t.csv:3: 1 fields, but the header names 2 columns"):
        list(read_csv(path))


def test_json_array_streamed_across_small_chunks_keeps_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_CHUNK", 7)  # every object straddles several reads
    objects = [{"id": i, "name": f"n{i}", "v": 12345.678 * i} for i in range(5)]
    text = "[\n" + ",\n".join("  " + json.dumps(o) for o in objects) + "\n]\n"
    path = tmp_path / "t.json"
    path.write_text(text)
    assert list(read_json(path)) == [(i + 2, o) for i, o in enumerate(objects)]


@pytest.mark.parametrize("text, message", [
    ('{"a": 1}', "expected a JSON array"),
    ('[{"a": 1},\n {"a": 2}', "not closed"),
    ('[{"a": 1},\n [1]]', ":2: expected a JSON object"),
    ('[{"a": 1},\n {"a": }]', ":2: malformed JSON"),
])
def test_json_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "t.json"
    path.write_text(text)
    with pytest.raises(DataFileError, match=message):
        list(read_json(path))


def test_jsonl_rejects_non_objects(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n[1]\n')
    with pytest.raises(DataFileError, match=r"t.jsonl:2: expected a JSON object"):
        list(read_jsonl(path))


def test_plain_sqlalchemy_table_rules_check_types_lengths_enums_nulls():
    from sqlalchemy import Column, Date, Enum, Integer, MetaData, String, Table

    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("code", String(3), nullable=False),
                  Column("kind", Enum("a", "b", name="kind")), Column("day", Date))
    rules = rules_for(table, None)
    problems = Problems()
    good = rules.validate({"id": "1", "code": "abc", "kind": "a", "day": "2024-02-29"}, "f:2", problems)
    assert good is not None and good[0] == 1 and str(good[3]) == "2024-02-29"
    assert rules.validate({"id": "x", "code": "abcd", "kind": "c", "day": "2024-02-30"}, "f:3", problems) is None
    assert rules.validate({"id": "2", "code": None}, "f:4", problems) is None
    text = "\n".join(problems.lines)
    assert "f:3: t.id: Input should be a valid integer" in text
    assert "f:3: t.code: String should have at most 3 characters ('abcd')" in text
    assert "f:3: t.kind: Input should be 'a' or 'b' ('c')" in text
    assert "f:3: t.day:" in text
    assert "f:4: t.code:" in text
    assert problems.total == 5
