"""Promises about the project itself: lint-clean, cheap to import, set-up commands documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("anthropic", "pandas", "ipywidgets", "matplotlib", "IPython", "json5", "keyring", "httpx2")


def _imported_after(statement: str) -> list[str]:
    probe = f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout.split()


def test_importing_the_package_loads_nothing_heavy() -> None:
    assert _imported_after("import clawdbot_nb") == []


def test_state_layer_imports_no_network_ipython_or_pandas() -> None:
    statement = (
        "import clawdbot_nb.state.status, clawdbot_nb.state.onboarding, clawdbot_nb.state.wizard, "
        "clawdbot_nb.state.selection, clawdbot_nb.cli"
    )
    assert _imported_after(statement) == []


def test_loading_the_extension_imports_no_sdk_pandas_or_widgets() -> None:
    statement = (
        "from IPython.core.interactiveshell import InteractiveShell; "
        "import clawdbot_nb.notebook.extension as e, clawdbot_nb.notebook.magics; "
        "e.PREIMPORT = (); e.load_ipython_extension(InteractiveShell.instance())"
    )
    loaded = _imported_after(statement)
    assert [m for m in loaded if m not in ("IPython",)] == []


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_is_clean(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python3 dev.py demo" in readme and "python3 dev.py test" in readme
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()


#: What each layer may not import (DESIGN.md: notebook → api → state; sim stands alone).
FORBIDDEN = {
    "state": ("clawdbot_nb.api", "clawdbot_nb.notebook", "clawdbot_nb.sim", "clawdbot_nb.commands"),
    "api": ("clawdbot_nb.notebook", "clawdbot_nb.commands"),
    # The simulator counts tokens and knows models on its own, so it can disagree with the client.
    "sim": (
        "clawdbot_nb.state",
        "clawdbot_nb.api",
        "clawdbot_nb.notebook",
        "clawdbot_nb.commands",
        "clawdbot_nb.tokenizer",
        "clawdbot_nb.catalog",
    ),
}
#: The simulator's own counting and model facts: the client keeps its estimate and catalog.
SIMULATOR_TRUTH = ("clawdbot_nb.sim.bpe", "clawdbot_nb.sim.positions", "clawdbot_nb.sim.model_facts")


def _imported_names(path: Path) -> list[tuple[int, str]]:
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        if node.__class__ is ast.ImportFrom and node.module == "clawdbot_nb":
            names += [f"clawdbot_nb.{alias.name}" for alias in node.names]
        found += [(node.lineno, name) for name in names]
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_one_way(layer: str) -> None:
    offenders = []
    for path in sorted((ROOT / "clawdbot_nb" / layer).rglob("*.py")):
        for line, name in _imported_names(path):
            if name.startswith(FORBIDDEN[layer]):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert offenders == []


def test_the_client_never_imports_the_simulators_counter() -> None:
    package = ROOT / "clawdbot_nb"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.is_relative_to(package / "sim"):
            continue
        for line, name in _imported_names(path):
            if name.startswith(SIMULATOR_TRUTH):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert offenders == []


def test_fixes_speak_the_words_of_the_surface_in_use():
    from clawdbot_nb.errors import command, current_surface, fix_for, on_surface

    assert current_surface() == "python"
    assert command("models status") == "clawdbot-nb models status"
    with on_surface("magic"):
        assert command("models status") == "%clawdbot models status"
        assert fix_for(python="ws.ask('Hello')", cli="clawdbot-nb ask 'Hello'") == "clawdbot-nb ask 'Hello'"
        assert fix_for(python="p", cli="c", magic="m") == "m"
    with on_surface("cli"):
        assert fix_for(python="ws.ask('Hello')", cli="clawdbot-nb ask 'Hello'") == "clawdbot-nb ask 'Hello'"
    assert fix_for(python="ws.ask('Hello')", cli="c") == "ws.ask('Hello')"


def test_an_error_line_reads_as_sentences():
    from clawdbot_nb.errors import ParseError

    clause = ParseError(
        "the store path is a directory, not a file", path="/x/store.json", fix="move it aside"
    )
    assert str(clause) == "/x/store.json: the store path is a directory, not a file. Fix: move it aside"
    sentence = ParseError("The key was refused.", fix="paste it again")
    assert str(sentence) == "The key was refused. Fix: paste it again"
    assert str(ParseError("nothing to fix")) == "nothing to fix"


def test_the_public_api_resolves_every_name_lazily():
    code = (
        "import sys, clawdbot_nb as cb\n"
        "assert 'anthropic' not in sys.modules and 'clawdbot_nb.api.workspace' not in sys.modules\n"
        "for name in cb.__all__:\n"
        "    assert getattr(cb, name) is not None, name\n"
        "assert cb.Workspace.__module__ == 'clawdbot_nb.api.workspace' and cb.sim.Simulator\n"
        "assert set(cb.__all__) == {*cb._EXPORTS, *cb._SUBMODULES, '__version__', "
        "'load_ipython_extension', 'unload_ipython_extension'}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
