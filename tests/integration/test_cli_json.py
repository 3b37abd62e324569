"""``--json`` on every command: exactly one JSON document on stdout, whatever happens.

The walk takes the command list from ``dkenv --help`` (and each group's ``--help``), so a
command added later without ``--json`` fails here.  Each command is run with ``--json`` alone,
with an unknown option (a usage error), and, for the commands about a running server, on a
real one (issue 18, item 6).
"""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import IMAGES

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("local_images", "scope")]


def _commands(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Commands:")
    return [line.split()[0] for line in lines[start + 1:] if line.startswith("  ") and line.strip()]


def _leaves(dk) -> list[tuple[str, ...]]:
    top = dk("--help")
    assert top.code == 0
    leaves: list[tuple[str, ...]] = []
    for name in _commands(top.out):
        help_text = dk(name, "--help").out
        if "Commands:" in help_text:
            leaves.extend((name, sub) for sub in _commands(help_text))
        else:
            leaves.append((name,))
    return leaves


def one_document(out: str) -> object:
    """The single JSON document ``out`` holds (json.loads fails on anything before or after it)."""
    assert out.strip(), "nothing on stdout"
    return json.loads(out)


def test_every_command_prints_one_document_with_json(dk) -> None:
    leaves = _leaves(dk)
    assert {("down",), ("prune",), ("url",), ("logs",), ("image", "build"), ("env", "down")} <= set(leaves)
    for command in leaves:
        for extra in ((), ("--no-such-option",)):
            result = dk(*command, *extra, "--json")
            document = one_document(result.out)
            if result.code != 0:
                assert isinstance(document, dict) and document["success"] is False, command
                assert document["error"]["exit_code"] == result.code, (command, document)
                assert document["error"]["message"], command
                assert "--json" not in document["error"]["message"], command  # not "No such option"
            if extra:
                assert result.code == 2, (command, result.err)
                assert "no-such-option" in document["error"]["message"], command


def test_usage_error_of_a_named_server_is_json(dk) -> None:
    result = dk("down", "no-such-server", "--json")
    assert result.code == 2
    document = one_document(result.out)
    assert "no dkenv server named 'no-such-server'" in document["error"]["message"]
    assert "No such option" not in result.out + result.err


def test_server_commands_on_a_real_server(dk) -> None:
    up = dk("up", "postgres", "--name", "jsonwalk", "--json")
    assert up.code == 0, up.err
    server = one_document(up.out)
    try:
        url = one_document(dk("url", "jsonwalk", "--json").out)
        assert url["url"] == server["url"] and url["name"] == "jsonwalk"
        logs = dk("logs", "jsonwalk", "--tail", "5", "--json")
        assert logs.code == 0, logs.err
        assert one_document(logs.out)["container"] == server["container"]
        pruned = dk("prune", "--json")
        assert pruned.code == 0 and one_document(pruned.out) == {"success": True, "removed": []}
    finally:
        down = dk("down", "jsonwalk", "--json")
    assert down.code == 0, down.err
    assert one_document(down.out) == {"success": True, "removed": ["jsonwalk"]}


def test_image_build_of_an_existing_image_and_env_down(dk) -> None:
    built = dk("image", "build", "postgres", "--tag", IMAGES["postgres"], "--json")
    assert built.code == 0, built.err
    assert one_document(built.out) == {"success": True, "engine": "postgres", "tag": IMAGES["postgres"]}
    gone = dk("env", "down", "nothing-declared", "--json")
    assert gone.code == 2
    assert one_document(gone.out)["error"]["exit_code"] == 2
