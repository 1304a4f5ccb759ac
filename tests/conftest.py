"""Every test runs in a private world: HOME, the Clawdbot state dir and the Claude Code config
dir point at temp folders, and no Anthropic or Clawdbot variable leaks in from the machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_LEAKY_PREFIXES = ("ANTHROPIC_", "CLAWDBOT_", "MOLTBOT_", "OPENCLAW_", "CLAUDE_", "PI_CODING_AGENT")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from clawdbot_nb.state.environment import PROVIDER_ENV_VARS

    provider_variables = {name for names in PROVIDER_ENV_VARS.values() for name in names}
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES) or name in provider_variables:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.setenv("CLAWDBOT_STATE_DIR", str(home / ".clawdbot"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(home / ".claude"))
    # keyring must never reach a real keychain from a test.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return home


@pytest.fixture
def state_dir(isolated_home: Path) -> Path:
    return Path(os.environ["CLAWDBOT_STATE_DIR"])


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Sum the `interop_*` figures the gateway interop tests record (fields compared, states,
    reads during gateway writes) and the fuzz tests' `fuzz_*` ones, and print them once."""
    totals: dict[str, int] = {}
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name.startswith(("interop_", "fuzz_")) and isinstance(value, int):
                totals[name] = totals.get(name, 0) + value
    if totals:
        terminalreporter.section("gateway interop and fuzz figures")
        for name, value in sorted(totals.items()):
            terminalreporter.write_line(f"{name.replace('_', ' ')}: {value:,}")
