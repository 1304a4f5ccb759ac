"""Bad input to the Workspace: one clear message with the fix, no traceback needed, no row lost."""

from __future__ import annotations

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.failures import ApiError
from clawdbot_nb.errors import NoCredentialsError, UsageError
from clawdbot_nb.state.agent import AgentState
from tests.send.conftest import store_api_key


@pytest.fixture
def keyed(agent) -> AgentState:
    store_api_key(agent, sim.DEMO_API_KEY)
    return agent


@pytest.mark.parametrize(
    ("options", "message", "fix"),
    [
        ({"ttl": "2h"}, "Invalid ttl '2h': prompt caching offers 5m or 1h.", 'ttl="1h"'),
        (
            {"max_tokens": 0},
            "max_tokens must be a whole number from 1 to 128,000 for claude-sonnet-5-5",
            "max_tokens=",
        ),
        ({"max_tokens": 10**7}, "max_tokens must be a whole number", "max_tokens="),
        ({"model": "claude-opus-4-1"}, "claude-opus-4-1 was retired", "claude-sonnet-5-5"),
        ({"model": "openai/gpt-5"}, "talks to Anthropic only", "claude-sonnet-5-5"),
    ],
)
def test_bad_arguments(workspace, keyed, simulator, options, message, fix) -> None:
    with pytest.raises(UsageError) as info:
        workspace.ask("hello", **options)
    assert message in str(info.value) and fix in info.value.fix
    assert len(simulator.requests) == 0


@pytest.mark.parametrize("prompt", ["", "   \n", None, 42])
def test_empty_or_wrong_prompt(workspace, keyed, prompt) -> None:
    with pytest.raises(UsageError) as info:
        workspace.ask(prompt)
    assert "prompt" in str(info.value).lower()


def test_unknown_model_is_the_apis_404_in_one_line(workspace, keyed) -> None:
    with pytest.raises(ApiError) as info:
        workspace.ask("hello", model="claude-sonnet-9-9")
    text = str(info.value)
    assert "\n" not in text and "Unknown model" in text and "claude-sonnet-9-9" in text
    assert "served_model_ids" in info.value.fix
    row = workspace.usage().iloc[-1]
    assert "Unknown model" in row["error"] and row["cost_usd"] == 0


def test_no_profile_at_all(workspace) -> None:
    with pytest.raises(NoCredentialsError) as info:
        workspace.ask("hello")
    assert str(info.value).startswith('No API key found for provider "anthropic"')
    assert "onboard" in info.value.fix


def test_a_profile_whose_secret_is_gone(workspace, agent) -> None:
    store_api_key(agent, "")
    with pytest.raises(NoCredentialsError) as info:
        workspace.ask("hello")
    assert "No credentials found for profile anthropic:default (the stored secret is empty)" in str(
        info.value
    )
    with pytest.raises(NoCredentialsError, match="No credentials found for profile anthropic:gone"):
        workspace.ask("hello", profile="anthropic:gone")


def test_rows_of_earlier_calls_survive_failures(workspace, keyed) -> None:
    workspace.ask("one")
    with pytest.raises(ApiError):
        workspace.ask("two", model="claude-nope")
    workspace.ask("three")
    frame = workspace.usage()
    assert len(frame) == 3
    assert frame["error"].isna().tolist() == [True, False, True]


def test_config_wrong_ttl_value_names_the_field(workspace, keyed, agent) -> None:
    agent.config_path.write_text(
        '{agents: {defaults: {models: {"anthropic/claude-sonnet-5-5": {params: {cacheControlTtl: 60}}}}}}'
    )
    with pytest.raises(Exception) as info:
        workspace.ask("hello")
    assert 'cacheControlTtl must be "5m" or "1h"' in str(info.value)
