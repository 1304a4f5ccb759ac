"""Fixtures for the state layer: an agent in a temp state dir and realistic-looking secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState


@pytest.fixture
def agent(state_dir: Path) -> AgentState:
    return AgentState.resolve()


@pytest.fixture(autouse=True)
def _fresh_claude_cli_cache():
    claude_cli.clear_read_cache()
    yield
    claude_cli.clear_read_cache()
