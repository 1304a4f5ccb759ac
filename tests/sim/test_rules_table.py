"""The rule table in `clawdbot_nb.sim`'s docstring names real tests; the package stands alone."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import clawdbot_nb.sim

TESTS = Path(__file__).parent
PACKAGE = Path(clawdbot_nb.sim.__file__).parent
_ROW = re.compile(r"^\| (?P<rule>[^|]+?) +\| (?P<ref>[^|]+?) +\| `(?P<test>test_\w+)` +\|$")


def _table() -> list[re.Match[str]]:
    return [m for line in (clawdbot_nb.sim.__doc__ or "").splitlines() if (m := _ROW.match(line))]


def _defined_tests() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                found.setdefault(node.name, []).append(path.name)
    return found


def test_every_test_named_in_the_rule_table_exists() -> None:
    rows = _table()
    assert len(rows) > 150
    defined = _defined_tests()
    missing = [row["test"] for row in rows if row["test"] not in defined]
    assert missing == []
    assert all(row["ref"].strip() for row in rows)


def test_test_names_are_unique_so_the_table_is_unambiguous() -> None:
    duplicates = {name: files for name, files in _defined_tests().items() if len(files) > 1}
    assert duplicates == {}


def test_importing_the_simulator_is_cheap() -> None:
    code = (
        "import sys, clawdbot_nb.sim as s; s.Simulator; "
        "print(sorted(m for m in ('anthropic', 'httpx2', 'pandas', 'http.server', 'tokenizers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "clawdbot_nb":
            names.update(f"clawdbot_nb.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_simulator_stands_alone() -> None:
    # The CLI's UsageError is the one thing borrowed; counting and model facts are the simulator's own.
    allowed_internal = ("clawdbot_nb.sim", "clawdbot_nb.errors")
    for path in PACKAGE.glob("*.py"):
        for name in _imports(path):
            if name.startswith("clawdbot_nb"):
                assert name.startswith(allowed_internal) or name == "clawdbot_nb", (
                    f"{path.name} imports {name}"
                )
            else:
                assert name.split(".")[0] in {
                    *sys.stdlib_module_names,
                    "httpx2",
                    "tokenizers",
                    "__future__",
                }, f"{path.name}: {name}"
