"""Copies of examples/migrations-shop with one thing changed: a model (the drift matrix of
issue 20), a revision added, env.py or the history broken.  Shared by the SQLite and the
server tests of migrations."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "examples" / "migrations-shop"

#: model-only change -> (old text, new text, the problem kind `migrations check` must report,
#: engines that can hold the difference)
DRIFT = {
    "new_column": ('    quantity: int\n', '    quantity: int\n    note: Optional[str] = Field(default=None, max_length=40)\n',
                   "missing_column", ("sqlite", "postgres", "mysql")),
    "nullable_changed": ('    name: str = Field(max_length=80)', '    name: Optional[str] = Field(default=None, max_length=80)',
                         "nullability", ("sqlite", "postgres", "mysql")),
    "fk_on_delete_changed": ('ondelete="CASCADE"', 'ondelete="RESTRICT"', "foreign_key", ("sqlite", "postgres", "mysql")),
    "varchar_shorter": ("email: str = Field(max_length=120, unique=True)", "email: str = Field(max_length=100, unique=True)",
                        "type_mismatch", ("sqlite", "postgres", "mysql")),
    "unique_dropped": ("email: str = Field(max_length=120, unique=True)", "email: str = Field(max_length=120)",
                       "unique", ("sqlite", "postgres", "mysql")),
    "check_changed": ('CheckConstraint("quantity > 0"', 'CheckConstraint("quantity > 1"', "check",
                      ("sqlite", "postgres", "mysql")),
    "server_default_changed": ('"server_default": "standard"', '"server_default": "basic"', "default",
                               ("sqlite", "postgres", "mysql")),
    # SQLite keeps the status as VARCHAR(9): a new label that fits changes nothing it can see.
    "enum_label_added": ('    cancelled = "cancelled"  # revision 0003\n',
                         '    cancelled = "cancelled"  # revision 0003\n    returned = "returned"\n',
                         "type_mismatch", ("postgres", "mysql")),
}


def copy_shop(tmp: Path, name: str = "shop-copy") -> Path:
    """A fresh copy of the example datakit (its own folder, so templates and caches are its own)."""
    dest = tmp / name
    shutil.copytree(SHOP, dest, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    return dest


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def drifted(tmp: Path, row: str) -> Path:
    kit = copy_shop(tmp, f"shop-{row}")
    old, new, _kind, _engines = DRIFT[row]
    edit(kit / "shop" / "models.py", old, new)
    return kit


def add_revision(kit: Path, revision: str, down: str | None, upgrade: str, downgrade: str = "pass",
                 filename: str | None = None) -> Path:
    """Write a revision file whose upgrade()/downgrade() bodies are the given statements."""
    def block(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip(), "    ")

    body = "\n".join([
        f'"""revision {revision}"""',
        "import sqlalchemy as sa",
        "from alembic import op",
        "",
        f"revision = {revision!r}",
        f"down_revision = {down!r}",
        "branch_labels = None",
        "depends_on = None",
        "",
        "",
        "def upgrade() -> None:",
        block(upgrade),
        "",
        "",
        "def downgrade() -> None:",
        block(downgrade),
        "",
    ])
    path = kit / "migrations" / "versions" / (filename or f"{revision}_rev.py")
    path.write_text(body)
    return path


def sample_data(tmp: Path) -> Path:
    """Two customers and two orders, in the columns revision 0001 already has."""
    folder = tmp / "data"
    folder.mkdir()
    (folder / "customers.csv").write_text("id,email,name\n1,a@example.com,Ann\n2,b@example.com,Bob\n")
    (folder / "orders.csv").write_text("id,customer_id,status,quantity\n1,1,pending,2\n2,2,shipped,1\n")
    return folder
