from __future__ import annotations

from pathlib import Path

import pytest

from clawdbot_nb.errors import UsageError
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.paths import (
    resolve_agent_dir,
    resolve_config_path,
    resolve_state_dir,
    validate_agent_id,
)


def test_state_dir_from_env_with_tilde(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "CLAWDBOT_STATE_DIR": "~/custom"}
    assert resolve_state_dir(env) == tmp_path / "custom"


def test_state_dir_defaults_to_dot_clawdbot(tmp_path: Path) -> None:
    assert resolve_state_dir({"HOME": str(tmp_path)}) == tmp_path / ".clawdbot"


@pytest.mark.parametrize("legacy", [".moltbot", ".moldbot", ".openclaw"])
def test_existing_later_era_dir_is_found(tmp_path: Path, legacy: str) -> None:
    (tmp_path / legacy).mkdir()
    assert resolve_state_dir({"HOME": str(tmp_path)}) == tmp_path / legacy


def test_existing_clawdbot_dir_beats_later_era_dirs_and_env(tmp_path: Path) -> None:
    (tmp_path / ".clawdbot").mkdir()
    (tmp_path / ".openclaw").mkdir()
    env = {"HOME": str(tmp_path), "OPENCLAW_STATE_DIR": str(tmp_path / "x")}
    assert resolve_state_dir(env) == tmp_path / ".clawdbot"


def test_later_era_env_variables_are_read(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "MOLTBOT_STATE_DIR": str(tmp_path / "molt")}
    assert resolve_state_dir(env) == tmp_path / "molt"


def test_config_path_env_then_default_then_legacy_names(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    assert (
        resolve_config_path(state, {"CLAWDBOT_CONFIG_PATH": str(tmp_path / "c.json")}) == tmp_path / "c.json"
    )
    assert resolve_config_path(state, {}) == state / "clawdbot.json"
    (state / "openclaw.json").write_text("{}")
    assert resolve_config_path(state, {}) == state / "openclaw.json"
    (state / "clawdbot.json").write_text("{}")
    assert resolve_config_path(state, {}) == state / "clawdbot.json"


def test_agent_dir_rules(tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert resolve_agent_dir("main", state, env={}) == state / "agents" / "main" / "agent"
    assert resolve_agent_dir("research", state, env={}) == state / "agents" / "research" / "agent"
    env = {"CLAWDBOT_AGENT_DIR": str(tmp_path / "override")}
    assert resolve_agent_dir("main", state, env=env) == tmp_path / "override"
    # The env override is for the default agent only.
    assert resolve_agent_dir("research", state, env=env) == state / "agents" / "research" / "agent"
    assert resolve_agent_dir("research", state, env={}, configured_dir=str(tmp_path / "r")) == tmp_path / "r"


def test_legacy_single_agent_dir_is_used_in_place_not_moved(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "agent").mkdir(parents=True)
    (state / "agent" / "auth-profiles.json").write_text('{"version": 1, "profiles": {}}')
    assert resolve_agent_dir("main", state, env={}) == state / "agent"
    assert (state / "agent" / "auth-profiles.json").exists()


@pytest.mark.parametrize("bad", ["../main", "a/b", "..", "", " ", "x" * 65, "-lead", "a b", "é"])
def test_bad_agent_ids_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        validate_agent_id(bad)
    assert "Invalid agent id" in str(info.value)
    assert "--agent" in str(info.value)


def test_agent_ids_are_case_insensitive() -> None:
    assert validate_agent_id("Research") == "research"


def test_config_agent_dir_and_default_agent(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "clawdbot.json").write_text(
        '{agents: {list: [{id: "ops", default: true, agentDir: "~/ops-agent"}]}}'
    )
    agent = AgentState.resolve()
    assert agent.agent_id == "ops" and agent.is_default
    assert agent.agent_dir == Path.home() / "ops-agent"
    assert AgentState.resolve("main").agent_dir == state_dir / "agents" / "main" / "agent"
