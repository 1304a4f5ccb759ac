"""States written by clawdbot-nb, read the same by the real gateway: `models status` field by
field (masks unified), `--check` codes, the text layout; the Claude Code login and environment auth."""

from __future__ import annotations

import json

from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.cooldown import record_failure
from tests.gateway.compare import compare_text
from tests.gateway.conftest import Gateway
from tests.gateway.helpers import (
    HOUR,
    OTHER_TOKEN,
    assert_same_status,
    ours,
)
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN, write_json


def test_states_we_write_read_the_same_by_the_gateway(gateway: Gateway, capsys, record_property) -> None:
    agent = AgentState.resolve()
    now = now_ms()
    # 1. Nothing yet: the gateway's default model, anthropic missing (--check 1).
    empty, _ = assert_same_status(record_property, gateway, capsys)
    assert empty["auth"]["missingProvidersInUse"] == ["anthropic"]

    # 2. An API key and setup-tokens onboarded by us: static, expiring in 3 h (--check 2).
    assert (
        ours(
            capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY
        )[0]
        == 0
    )
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:manual", expires_in="3h")
    onboarding.save_setup_token(agent, OTHER_TOKEN, profile_id="anthropic:work", expires_in="30d")
    assert (
        assert_same_status(record_property, gateway, capsys)[0]["auth"]["oauth"]["providers"][0]["status"]
        == "expiring"
    )

    # 3. A cooldown (2nd failure: 5 min) and a billing disable (5 h) written by us, an explicit
    #    order, an expired token (--check 1), a model config with fallbacks, aliases, an image model.
    def failures(store) -> None:
        stats = record_failure(
            store.stats("anthropic:default"), "rate_limit", now - 10_000, provider="anthropic"
        )
        stats = record_failure(stats, "rate_limit", now - 5_000, provider="anthropic")
        store.set_stats("anthropic:default", stats)
        store.set_stats(
            "anthropic:work",
            record_failure(store.stats("anthropic:work"), "billing", now, provider="anthropic"),
        )
        raw = store.data["profiles"]["anthropic:manual"]
        raw["expires"] = now - 2 * HOUR

    agent.store_file.update(failures)
    onboarding.set_order(agent, "anthropic", ["anthropic:work", "anthropic:default"])
    config = json.loads(agent.config_path.read_text())
    config["agents"] = {
        "defaults": {
            "model": {
                "primary": "anthropic/claude-sonnet-4-5",
                "fallbacks": ["anthropic/claude-haiku-4-5", "openai/gpt-5"],
            },
            "imageModel": {"primary": "anthropic/claude-haiku-4-5"},
            "models": {"anthropic/claude-sonnet-4-5": {"alias": "sonnet"}, "anthropic/claude-haiku-4-5": {}},
        }
    }
    agent.config_path.write_text(json.dumps(config, indent=2))
    blocked, (text_theirs, plain) = assert_same_status(
        record_property, gateway, capsys, also=(("models", "status"), ("models", "status", "--plain"))
    )
    kinds = {u["profileId"]: (u["kind"], u.get("reason")) for u in blocked["auth"]["unusableProfiles"]}
    assert kinds == {"anthropic:default": ("cooldown", None), "anthropic:work": ("disabled", "billing")}
    assert blocked["auth"]["missingProvidersInUse"] == ["openai"]
    _, text_ours = ours(capsys, "models", "status")
    assert compare_text(text_theirs.stdout, text_ours) == []
    assert (
        plain.stdout.strip()
        == ours(capsys, "models", "status", "--plain")[1].strip()
        == "anthropic/claude-sonnet-4-5"
    )
    record_property("interop_states", 1)


def test_claude_cli_oauth_and_environment_states(
    gateway: Gateway, capsys, record_property, monkeypatch
) -> None:
    home = gateway.home
    agent = AgentState.resolve()
    now = now_ms()
    # The Claude Code login where both look for it ($HOME/.claude): onboarded by us (opt-in).
    write_json(home / ".claude" / ".credentials.json", {"claudeAiOauth": {
        "accessToken": OAUTH_ACCESS, "refreshToken": OAUTH_REFRESH, "expiresAt": now + 30 * HOUR,
        "scopes": ["user:inference"], "subscriptionType": "max"}})  # fmt: skip
    onboarding.import_claude_cli(agent)
    # An OAuth login with an email in the config, and one without an expiry (status missing).
    agent.store_file.update(lambda store: store.data["profiles"].update({
        "anthropic:me@example.com": {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS,
                                     "refresh": OAUTH_REFRESH, "expires": now + 50 * HOUR, "email": "me@example.com"},
        "anthropic:noexpiry": {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS, "refresh": OAUTH_REFRESH},
    }))  # fmt: skip
    state, (text_theirs,) = assert_same_status(record_property, gateway, capsys, also=(("models", "status"),))
    assert compare_text(text_theirs.stdout, ours(capsys, "models", "status")[1]) == []
    sources = {p["profileId"]: p["source"] for p in state["auth"]["oauth"]["profiles"]}
    assert sources["anthropic:claude-cli"] == "claude-cli"


def test_environment_only_states(gateway: Gateway, capsys, record_property, monkeypatch) -> None:
    """No profile anywhere (the gateway would merge the main agent's into a sub-agent's view)."""
    gateway.state_dir.mkdir(parents=True, exist_ok=True)
    (gateway.state_dir / ".env").write_text(f"ANTHROPIC_API_KEY={API_KEY}\n")
    key, _ = assert_same_status(record_property, gateway, capsys)
    assert key["auth"]["providers"][0]["effective"]["kind"] == "env"
    monkeypatch.setenv("ANTHROPIC_OAUTH_TOKEN", SETUP_TOKEN)
    token, (text_theirs,) = assert_same_status(
        record_property,
        gateway,
        capsys,
        env={"ANTHROPIC_OAUTH_TOKEN": SETUP_TOKEN},
        agent="research",
        also=(("models", "status"),),
    )
    assert token["auth"]["providersWithOAuth"] == ["anthropic (1)"]
    assert compare_text(text_theirs.stdout, ours(capsys, "models", "status", "--agent", "research")[1]) == []
