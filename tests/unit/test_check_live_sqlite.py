"""The live pass on real in-memory SQLite: each table's verdict is its own."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dkenv.check.live import live_check


def test_engine_only_type_names_the_column_and_spares_the_neighbours() -> None:
    md = sa.MetaData()
    good = sa.Table("good", md, sa.Column("id", sa.Integer, primary_key=True))
    film = sa.Table("film", md, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("tags", postgresql.ARRAY(sa.Text)))
    child = sa.Table("child", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("film_id", sa.Integer, sa.ForeignKey("film.id")))
    cells = {r.table: r for r in live_check([[good, film, child]], ["sqlite"]).results}
    assert cells["good"].status == "ok"
    assert cells["film"].status == "failed"
    assert cells["film"].detail.startswith("tags: SQLite has no ARRAY(TEXT) type")
    assert "sa.JSON().with_variant(" in cells["film"].detail and "Compiler <" not in cells["film"].detail
    assert cells["child"].status == "skipped" and "film" in cells["child"].detail


def test_dangling_key_fails_only_its_table() -> None:
    md = sa.MetaData()
    good = sa.Table("good", md, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(20)))
    bad = sa.Table("bad", md, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("x_id", sa.Integer, sa.ForeignKey("nowhere.id")))
    later = sa.Table("later", md, sa.Column("id", sa.Integer, primary_key=True))
    cells = {r.table: r for r in live_check([[bad, good, later]], ["sqlite"]).results}
    assert (cells["good"].status, cells["later"].status) == ("ok", "ok"), cells
    assert cells["bad"].status == "failed" and "bad.x_id references nowhere" in cells["bad"].detail
