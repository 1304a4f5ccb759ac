from __future__ import annotations

import time

import pytest

from clawdbot_nb.errors import CredentialError, NoAvailableProfileError, NoCredentialsError, UsageError
from clawdbot_nb.state import onboarding, wizard
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.cooldown import UsageStats
from clawdbot_nb.state.credentials import ApiKeyCredential, TokenCredential
from clawdbot_nb.state.selection import auth_candidates
from tests.state.fakes import API_KEY, SETUP_TOKEN, ScriptedPrompter, read_json

HOUR = 3_600_000


def stored(agent: AgentState) -> dict:
    return read_json(agent.agent_dir / "auth-profiles.json")["profiles"]


def test_api_key_onboarding_writes_default_profile_and_config_mode(agent: AgentState) -> None:
    result = onboarding.onboard_non_interactive(
        agent, "apiKey", anthropic_api_key=f'export ANTHROPIC_API_KEY="{API_KEY}";'
    )
    assert stored(agent) == {
        "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": API_KEY}
    }
    assert read_json(agent.config_path)["auth"]["profiles"]["anthropic:default"] == {
        "provider": "anthropic",
        "mode": "api_key",
    }
    assert str(result).startswith("Saved anthropic:default (api_key sk-ant-api03-…WXYZ) for agent main")
    assert API_KEY not in str(result) and API_KEY not in repr(result)


def test_api_key_comes_from_the_environment(agent: AgentState) -> None:
    onboarding.onboard_non_interactive(agent, "apiKey", env={"ANTHROPIC_API_KEY": API_KEY})
    assert stored(agent)["anthropic:default"]["key"] == API_KEY


def test_api_key_missing_everywhere(agent: AgentState) -> None:
    with pytest.raises(CredentialError, match="No API key given"):
        onboarding.onboard_non_interactive(agent, "apiKey", env={})


def test_token_onboarding_with_expiry_and_profile_id(agent: AgentState) -> None:
    before = int(time.time() * 1000)
    onboarding.onboard_non_interactive(
        agent,
        "token",
        token=SETUP_TOKEN,
        token_provider="anthropic",
        token_profile_id="work",
        token_expires_in="365d",
    )
    entry = stored(agent)["anthropic:work"]
    assert entry["type"] == "token" and entry["token"] == SETUP_TOKEN
    assert before + 365 * 24 * HOUR <= entry["expires"] <= int(time.time() * 1000) + 365 * 24 * HOUR
    assert read_json(agent.config_path)["auth"]["profiles"]["anthropic:work"]["mode"] == "token"


def test_token_onboarding_rules(agent: AgentState) -> None:
    with pytest.raises(UsageError, match="--token-provider anthropic"):
        onboarding.onboard_non_interactive(agent, "token", token=SETUP_TOKEN, token_provider="openai")
    with pytest.raises(CredentialError, match="Token looks too short"):
        onboarding.onboard_non_interactive(
            agent, "token", token="sk-ant-oat01-abc", token_provider="anthropic"
        )
    with pytest.raises(CredentialError, match="not a setup-token"):
        onboarding.onboard_non_interactive(agent, "token", token=API_KEY, token_provider="anthropic")
    with pytest.raises(UsageError, match=r"Invalid --token-expires-in '1 year'"):
        onboarding.onboard_non_interactive(
            agent, "token", token=SETUP_TOKEN, token_provider="anthropic", token_expires_in="1 year"
        )
    assert not (agent.agent_dir / "auth-profiles.json").exists()


@pytest.mark.parametrize("choice", ["setup-token", "oauth"])
def test_interactive_only_choices(agent: AgentState, choice: str) -> None:
    with pytest.raises(UsageError) as info:
        onboarding.onboard_non_interactive(agent, choice)
    assert f'Auth choice "{choice}" requires interactive mode. Use "--auth-choice token"' in str(info.value)


def test_paste_token_defaults_and_refusals(agent: AgentState) -> None:
    onboarding.paste_token(agent, SETUP_TOKEN + "\n")
    assert stored(agent)["anthropic:manual"] == {
        "type": "token",
        "provider": "anthropic",
        "token": SETUP_TOKEN,
    }
    with pytest.raises(UsageError, match="only for --provider anthropic"):
        onboarding.paste_token(agent, SETUP_TOKEN, provider="OpenAI")  # an Anthropic token, elsewhere
    with pytest.raises(CredentialError, match="not a setup-token"):
        onboarding.paste_token(agent, API_KEY)
    with pytest.raises(CredentialError, match="Required"):
        onboarding.paste_token(agent, "  ")
    with pytest.raises(CredentialError, match="That is not an Anthropic token") as info:
        onboarding.paste_token(agent, "hello")
    assert "hello" not in str(info.value)
    assert list(stored(agent)) == ["anthropic:manual"]


def test_order_get_set_clear(agent: AgentState) -> None:
    onboarding.save_api_key(agent, API_KEY)
    onboarding.paste_token(agent, SETUP_TOKEN)
    assert onboarding.get_order(agent) is None
    assert onboarding.set_order(agent, "anthropic", ["default", "anthropic:manual"]) == [
        "anthropic:default",
        "anthropic:manual",
    ]
    with pytest.raises(UsageError, match="Not a stored anthropic profile: anthropic:nope"):
        onboarding.set_order(agent, "anthropic", ["anthropic:nope"])
    onboarding.clear_order(agent)
    assert onboarding.get_order(agent) is None


def test_remove_and_clear_cooldown(agent: AgentState) -> None:
    onboarding.save_api_key(agent, API_KEY)
    agent.store_file.update(
        lambda s: s.set_stats("anthropic:default", UsageStats(error_count=3, cooldown_until=1 << 60))
    )
    onboarding.clear_profile_cooldown(agent, "anthropic:default")
    assert agent.store_file.load().stats("anthropic:default").cooldown_until is None
    assert onboarding.remove_profile(agent, "anthropic:default")
    assert stored(agent) == {}
    assert "anthropic:default" not in read_json(agent.config_path)["auth"]["profiles"]


@pytest.mark.parametrize("bad", ["", "nocolon:", "a b:c", ":x"])
def test_bad_profile_ids(agent: AgentState, bad: str) -> None:
    with pytest.raises(UsageError, match="Invalid profile id"):
        onboarding.save_api_key(agent, API_KEY, profile_id=bad)


# -- selection and the troubleshooting messages --------------------------------------------------


def test_no_api_key_for_a_new_agent(agent: AgentState) -> None:
    onboarding.save_api_key(agent, API_KEY)
    research = AgentState.resolve("research")
    with pytest.raises(NoCredentialsError) as info:
        auth_candidates(research)
    text = str(info.value)
    assert text.startswith('No API key found for provider "anthropic"')
    assert "auth is per agent" in text and "onboard --agent research" in text


def test_env_fallback_is_used_only_without_profiles(
    agent: AgentState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    (candidate,) = auth_candidates(agent)
    assert candidate.profile_id is None and candidate.source == "env: ANTHROPIC_API_KEY"
    assert isinstance(candidate.credential, ApiKeyCredential)
    monkeypatch.setenv("ANTHROPIC_OAUTH_TOKEN", SETUP_TOKEN)
    assert isinstance(auth_candidates(agent)[0].credential, TokenCredential)
    onboarding.paste_token(agent, SETUP_TOKEN)
    assert [c.profile_id for c in auth_candidates(agent)] == ["anthropic:manual"]


def test_no_credentials_for_a_named_profile(agent: AgentState) -> None:
    onboarding.save_api_key(agent, API_KEY)
    with pytest.raises(NoCredentialsError) as info:
        auth_candidates(agent, profile_id="anthropic:claude-cli")
    assert str(info.value).startswith("No credentials found for profile anthropic:claude-cli")
    assert "models status" in info.value.fix


def test_all_in_cooldown(agent: AgentState) -> None:
    onboarding.save_api_key(agent, API_KEY)
    now = int(time.time() * 1000)
    agent.store_file.update(
        lambda s: s.set_stats(
            "anthropic:default", UsageStats(cooldown_until=now + 4 * 60_000, failure_counts={"rate_limit": 1})
        )
    )
    with pytest.raises(NoAvailableProfileError) as info:
        auth_candidates(agent, now=now)
    text = str(info.value)
    assert text.startswith("No available auth profile (all in cooldown/unavailable)")
    assert "anthropic:default cooldown 4m (rate_limit)" in text
    assert "auth.unusableProfiles" in info.value.fix
    # An explicit profile is honoured even while it cools down.
    assert (
        auth_candidates(agent, profile_id="anthropic:default", now=now)[0].profile_id == "anthropic:default"
    )


# -- interactive flows -----------------------------------------------------------------------------


def test_wizard_offers_the_three_choices_and_stores_an_api_key(agent: AgentState) -> None:
    prompter = ScriptedPrompter("1", API_KEY)
    result = wizard.run_wizard(agent, prompter, env={})
    text = "\n".join(prompter.shown)
    for label in (
        "Anthropic API key",
        "Anthropic token (paste setup-token)",
        "Claude Code CLI (reuse existing login)",
    ):
        assert label in text
    assert result.profile_id == "anthropic:default"
    assert prompter.secret_prompts == ["Paste Anthropic API key (hidden): "]
    assert API_KEY not in text


def test_wizard_offers_the_existing_env_key(agent: AgentState) -> None:
    prompter = ScriptedPrompter("1", "")
    wizard.run_wizard(agent, prompter, env={"ANTHROPIC_API_KEY": API_KEY})
    assert any("Use existing ANTHROPIC_API_KEY (env, sk-ant-api03-…WXYZ)?" in s for s in prompter.shown)
    assert stored(agent)["anthropic:default"]["key"] == API_KEY


def test_wizard_token_reasks_on_a_mistake_and_names_the_profile(agent: AgentState) -> None:
    prompter = ScriptedPrompter("2", "sk-ant-oat01-short", SETUP_TOKEN, "Work Laptop", "")
    result = wizard.run_wizard(agent, prompter, env={})
    assert result.profile_id == "anthropic:work-laptop"
    assert any("Token looks too short" in s for s in prompter.shown)
    assert len(prompter.secret_prompts) == 2


def test_wizard_gives_up_after_three_bad_answers(agent: AgentState) -> None:
    with pytest.raises(UsageError):
        wizard.run_wizard(agent, ScriptedPrompter("9", "x", "4"), env={})


def test_setup_token_flow_without_claude_explains_then_reads_the_paste(
    agent: AgentState, monkeypatch
) -> None:
    monkeypatch.setattr(wizard.shutil, "which", lambda name: None)
    prompter = ScriptedPrompter(SETUP_TOKEN)
    result = wizard.setup_token_flow(agent, prompter, stdin_is_tty=True)
    assert (
        "`claude` command is not installed" in prompter.shown[0] and "claude setup-token" in prompter.shown[0]
    )
    assert result.profile_id == "anthropic:manual"


def test_setup_token_flow_runs_claude_when_available(agent: AgentState, monkeypatch) -> None:
    monkeypatch.setattr(wizard.shutil, "which", lambda name: "/usr/bin/claude")
    calls: list[list[str]] = []
    result = wizard.setup_token_flow(
        agent, ScriptedPrompter(SETUP_TOKEN), stdin_is_tty=True, run=lambda cmd: calls.append(cmd) or 0
    )
    assert calls == [["/usr/bin/claude", "setup-token"]]
    assert result.credential_type == "token"


def test_removing_a_profile_keeps_the_shared_metadata_another_agent_needs(agent: AgentState) -> None:
    other = AgentState.resolve("other")
    onboarding.save_api_key(agent, API_KEY)
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:work")
    onboarding.save_api_key(other, API_KEY)
    onboarding.remove_profile(agent, "anthropic:default")
    assert [c.profile_id for c in auth_candidates(other)] == ["anthropic:default"]
    assert "anthropic:default" in read_json(agent.config_path)["auth"]["profiles"]
    onboarding.remove_profile(other, "anthropic:default")
    assert "anthropic:default" not in read_json(agent.config_path)["auth"]["profiles"]
