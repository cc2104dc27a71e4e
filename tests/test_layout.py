"""The arrows between the parts run one way: the functions and the relay import
the core (vigie/), never each other, and the core imports neither."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from .helpers import ROOT

LOADED = """
import json, sys
{prelude}
import {module}
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(module: str, prelude: str = "") -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED.format(module=module, prelude=prelude)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def test_the_relay_loads_no_module_of_the_functions():
    loaded = loaded_by("realtime.relay", "from gevent import monkey; monkey.patch_all()")
    assert "realtime.feed" in loaded
    assert [m for m in loaded if m.split(".")[0] == "functions"] == []
    assert "pydantic" not in loaded


def test_the_core_loads_neither_app():
    for module in ("vigie.settings", "vigie.db", "vigie.migrate", "vigie.cli", "vigie.local"):
        loaded = loaded_by(module)
        assert [m for m in loaded if m.split(".")[0] in ("functions", "realtime")] == []


@pytest.mark.parametrize(("package", "forbidden"), [
    ("functions", {"realtime"}), ("realtime", {"functions"}), ("vigie", {"functions", "realtime"}),
])  # fmt: skip
def test_no_module_imports_across(package, forbidden):
    """Read from the source: no import of the other side, at any level of a module."""
    crossing = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            crossing += [f"{path.name}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert crossing == []


def test_no_blueprint_imports_the_factory_or_the_entry_points():
    for group in ("servers", "metrics", "history", "alerts", "stats", "openapi"):
        tree = ast.parse((ROOT / "functions" / f"{group}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"factory", "app", "functions.factory", "functions.app"}, group
