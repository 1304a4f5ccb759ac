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
