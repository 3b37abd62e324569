"""Tables a framework names (Flask-SQLAlchemy, advanced-alchemy) deploy and validate on a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datakits"


@pytest.mark.docker
@pytest.mark.usefixtures("local_images", "scope")
@pytest.mark.parametrize("target", [pytest.param("postgres_container", marks=pytest.mark.postgres),
                                    pytest.param("mysql_container", marks=pytest.mark.mysql)])
def test_framework_named_tables_deploy_and_validate_on_servers(dk, target):
    pytest.importorskip("flask_sqlalchemy", reason="flask-sqlalchemy is not installed (pip install -e '.[dev]')")
    pytest.importorskip("advanced_alchemy", reason="advanced-alchemy is not installed (pip install -e '.[dev]')")
    r = dk("deploy", FIXTURES / "flask_models", FIXTURES / "advanced_models", FIXTURES / "mapped_styles",
           "--target", target, "--validate", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["validation"] == {"success": True, "problems": []}
    assert sorted(doc["tables"]) == ["author", "book", "book_loan", "label", "note", "person", "tag",
                                     "user_account", "widget"]
