from __future__ import annotations

import pandas as pd
import pytest

from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.status import models_status
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN, write_json

NOW = 1_769_650_000_000
MIN, HOUR = 60_000, 3_600_000
SECRETS = (API_KEY, SETUP_TOKEN, OAUTH_ACCESS, OAUTH_REFRESH)


@pytest.fixture
def mixed_store(agent: AgentState) -> AgentState:
    write_json(
        agent.agent_dir / "auth-profiles.json",
        {
            "version": 1,
            "profiles": {
                "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": API_KEY},
                "anthropic:manual": {
                    "type": "token",
                    "provider": "anthropic",
                    "token": SETUP_TOKEN,
                    "expires": NOW - HOUR,
                },
                "anthropic:claude-cli": {
                    "type": "oauth",
                    "provider": "anthropic",
                    "access": OAUTH_ACCESS,
                    "refresh": OAUTH_REFRESH,
                    "expires": NOW + 30 * HOUR,
                },
            },
            "usageStats": {
                "anthropic:default": {
                    "errorCount": 2,
                    "failureCounts": {"rate_limit": 2},
                    "lastFailureAt": NOW - MIN,
                    "cooldownUntil": NOW + 4 * MIN,
                    "lastUsed": NOW - HOUR,
                }
            },
        },
    )
    return agent


def test_status_json_schema_and_verdicts(mixed_store: AgentState) -> None:
    report = models_status(mixed_store, now=NOW)
    data = report.to_json()
    # As the gateway: its default model when none is configured, absolute paths.
    assert data["defaultModel"] == data["resolvedDefault"] == "anthropic/claude-opus-4-5"
    assert data["clawdbotNb"]["askModel"] == "anthropic/claude-sonnet-5-5"
    auth = data["auth"]
    assert auth["storePath"] == str(mixed_store.agent_dir / "auth-profiles.json")
    assert data["configPath"] == str(mixed_store.config_path) and data["agentDir"] == str(
        mixed_store.agent_dir
    )
    assert auth["providersWithOAuth"] == ["anthropic (2)"]
    assert auth["missingProvidersInUse"] == []
    (provider,) = auth["providers"]
    assert provider["effective"]["kind"] == "profiles"
    assert provider["profiles"] | {"labels": None} == {
        "count": 3,
        "oauth": 1,
        "token": 1,
        "apiKey": 1,
        "labels": None,
    }
    assert "anthropic:default=sk-ant-api03-…WXYZ [cooldown 4m]" in provider["profiles"]["labels"]
    assert auth["unusableProfiles"] == [  # a plain cooldown has no reason (only disables do)
        {"profileId": "anthropic:default", "provider": "anthropic", "kind": "cooldown",
         "until": NOW + 4 * MIN, "remainingMs": 4 * MIN}
    ]  # fmt: skip
    # Sorted by provider, then profile id; the synced Claude CLI profile says where it came from.
    assert [p["profileId"] for p in auth["oauth"]["profiles"]] == [
        "anthropic:claude-cli", "anthropic:default", "anthropic:manual"
    ]  # fmt: skip
    assert auth["oauth"]["profiles"][0]["source"] == "claude-cli"
    profiles = {p["profileId"]: p for p in auth["oauth"]["profiles"]}
    assert profiles["anthropic:default"]["status"] == "static"
    assert profiles["anthropic:manual"] | {"label": None} == {
        "profileId": "anthropic:manual", "provider": "anthropic", "type": "token", "status": "expired",
        "expiresAt": NOW - HOUR, "remainingMs": -HOUR, "source": "store", "label": None,
    }  # fmt: skip
    assert profiles["anthropic:claude-cli"]["status"] == "ok"
    assert auth["oauth"]["warnAfterMs"] == 86_400_000
    assert auth["oauth"]["providers"][0]["status"] == "expired"
    assert report.check_exit_code() == 1


def test_no_secret_in_any_rendering(mixed_store: AgentState) -> None:
    report = models_status(mixed_store, now=NOW)
    frame = report.profiles_frame()
    renderings = [
        repr(report),
        str(report),
        str(report.to_json()),
        frame.to_string(),
        frame.to_json(date_format="iso"),
    ]
    for text in renderings:
        for secret in SECRETS:
            assert secret not in text
            assert secret[13:-4] not in text


def test_human_output(mixed_store: AgentState) -> None:
    text = models_status(mixed_store, now=NOW).render()
    gateway_part, ours = text.split("\nclawdbot-nb\n")
    assert "Default       : anthropic/claude-opus-4-5" in gateway_part
    assert "Image fallbacks (0): -\nAliases (0)   : -\nConfigured models (0): all" in gateway_part
    assert "profiles=3 (oauth=1, token=1, api_key=1)" in gateway_part
    assert "anthropic:default=sk-ant-api03-…WXYZ [cooldown 4m]" in gateway_part
    # Only oauth/token profiles, in the gateway's words and order.
    assert gateway_part.endswith(
        "OAuth/token status\n- anthropic\n"
        "  - anthropic:claude-cli ok expires in 30h (claude-cli)\n"
        "  - anthropic:manual expired expires in 0m\n"
    )
    assert "Ask model     : anthropic/claude-sonnet-5-5" in ours
    assert "  skipped anthropic:manual: token expired" in ours
    assert "  anthropic:manual expired 1h ago" in ours
    assert "anthropic order (round robin): anthropic:claude-cli, anthropic:default" in ours


def test_profiles_frame_columns_and_dtypes(mixed_store: AgentState) -> None:
    frame = models_status(mixed_store, now=NOW).profiles_frame()
    assert list(frame.index) == ["anthropic:default", "anthropic:manual", "anthropic:claude-cli"]
    row = frame.loc["anthropic:default"]
    assert row["secret"] == "sk-ant-api03-…WXYZ"
    assert row["unusable_reason"] == "cooldown 4m (rate_limit)"
    assert not row["usable"]
    assert row["cooldown_until"] == pd.Timestamp(NOW + 4 * MIN, unit="ms", tz="UTC")
    assert row["error_count"] == 2 and row["order_position"] == 2
    assert frame.loc["anthropic:manual", "unusable_reason"] == "token expired"
    assert pd.isna(frame.loc["anthropic:manual", "order_position"])
    assert frame.loc["anthropic:claude-cli", "remaining"] == pd.Timedelta(hours=30)
    assert str(frame["expires"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(frame["expires"].dtype)
    assert str(frame["error_count"].dtype) == "Int64"
    assert frame["usable"].dtype == bool


@pytest.mark.parametrize(
    ("expires", "code"),
    [(NOW + 30 * HOUR, 0), (NOW + 3 * HOUR, 2), (NOW - 1, 1), (None, 0)],
)
def test_check_exit_codes(agent: AgentState, expires: int | None, code: int) -> None:
    entry = {"type": "token", "provider": "anthropic", "token": SETUP_TOKEN}
    if expires is not None:
        entry["expires"] = expires
    write_json(
        agent.agent_dir / "auth-profiles.json", {"version": 1, "profiles": {"anthropic:manual": entry}}
    )
    assert models_status(agent, now=NOW).check_exit_code() == code


def test_oauth_without_expiry_is_missing(agent: AgentState) -> None:
    entry = {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS, "refresh": OAUTH_REFRESH}
    write_json(agent.agent_dir / "auth-profiles.json", {"version": 1, "profiles": {"anthropic:x": entry}})
    report = models_status(agent, now=NOW)
    assert report.to_json()["auth"]["oauth"]["profiles"][0]["status"] == "missing"
    assert report.check_exit_code() == 1


def test_missing_provider_in_use(agent: AgentState) -> None:
    report = models_status(agent, now=NOW)
    assert report.to_json()["auth"]["missingProvidersInUse"] == ["anthropic"]
    assert report.check_exit_code() == 1
    assert "Missing auth" in report.render()


def test_env_fallback_is_reported_with_its_source(agent: AgentState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    data = models_status(agent, now=NOW).to_json()
    provider = data["auth"]["providers"][0]
    assert provider["effective"] == {"kind": "env", "detail": "sk-ant-api03-…WXYZ"}
    assert provider["env"] == {"value": "sk-ant-api03-…WXYZ", "source": "env: ANTHROPIC_API_KEY"}
    assert data["auth"]["missingProvidersInUse"] == []
    assert data["auth"]["oauth"]["providers"] == [
        {"provider": "anthropic", "status": "missing", "profiles": []}
    ]


def test_an_oauth_token_in_the_environment(agent: AgentState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_OAUTH_TOKEN", SETUP_TOKEN)
    auth = models_status(agent, now=NOW).to_json()["auth"]
    assert auth["providers"][0]["effective"] == {"kind": "env", "detail": "OAuth (env)"}
    assert auth["providers"][0]["env"] == {"value": "OAuth (env)", "source": "env: ANTHROPIC_OAUTH_TOKEN"}
    assert auth["providersWithOAuth"] == ["anthropic (1)"]


def test_dotenv_and_config_env_sources(agent: AgentState) -> None:
    """The gateway loads both into its environment: `env: NAME` to it; ours says which."""
    write_json(agent.config_path, {"env": {"ANTHROPIC_API_KEY": API_KEY}})
    data = models_status(agent, now=NOW).to_json()
    assert data["auth"]["providers"][0]["env"]["source"] == "env: ANTHROPIC_API_KEY"
    assert data["clawdbotNb"]["envSources"] == {"anthropic": "config env: ANTHROPIC_API_KEY"}
    (agent.state_dir / ".env").write_text(f'# daemon\nexport ANTHROPIC_API_KEY="{API_KEY}"\n')
    assert models_status(agent, now=NOW).to_json()["clawdbotNb"]["envSources"] == {
        "anthropic": ".env: ANTHROPIC_API_KEY"
    }


def test_disabled_billing_profile(agent: AgentState) -> None:
    write_json(
        agent.agent_dir / "auth-profiles.json",
        {
            "version": 1,
            "profiles": {"anthropic:default": {"type": "api_key", "provider": "anthropic", "key": API_KEY}},
            "usageStats": {
                "anthropic:default": {"disabledUntil": NOW + 5 * HOUR, "disabledReason": "billing"}
            },
        },
    )
    data = models_status(agent, now=NOW).to_json()["auth"]
    assert (
        data["unusableProfiles"][0]["kind"] == "disabled"
        and data["unusableProfiles"][0]["reason"] == "billing"
    )
    assert data["providers"][0]["profiles"]["labels"] == [
        "anthropic:default=sk-ant-api03-…WXYZ [disabled:billing 5h]"
    ]


def test_config_models_section(agent: AgentState) -> None:
    write_json(
        agent.config_path,
        {"agents": {"defaults": {
            "model": {"primary": "anthropic/claude-opus-4-5", "fallbacks": ["anthropic/claude-haiku-4-5"]},
            "models": {"anthropic/claude-opus-4-5": {"alias": "opus", "params": {"cacheControlTtl": "1h"}}},
        }}},
    )  # fmt: skip
    data = models_status(agent, now=NOW).to_json()
    assert data["defaultModel"] == "anthropic/claude-opus-4-5"
    assert data["fallbacks"] == ["anthropic/claude-haiku-4-5"]
    assert data["aliases"] == {"opus": "anthropic/claude-opus-4-5"}
    assert data["allowed"] == ["anthropic/claude-opus-4-5"]


def test_a_provider_in_use_without_auth_is_missing_not_listed(agent: AgentState) -> None:
    write_json(
        agent.config_path,
        {
            "agents": {
                "defaults": {"model": {"primary": "anthropic/claude-opus-4-5", "fallbacks": ["openai/gpt-5"]}}
            }
        },
    )
    write_json(
        agent.agent_dir / "auth-profiles.json",
        {
            "version": 1,
            "profiles": {"anthropic:default": {"type": "api_key", "provider": "anthropic", "key": API_KEY}},
        },
    )
    report = models_status(agent, now=NOW)
    auth = report.to_json()["auth"]
    assert [p["provider"] for p in auth["providers"]] == ["anthropic"]
    assert auth["missingProvidersInUse"] == ["openai"]
    assert auth["oauth"]["providers"][1] == {"provider": "openai", "status": "missing", "profiles": []}
    assert "Missing auth\n- openai " in report.render()
    assert report.check_exit_code() == 1


def test_aliases_and_bare_ids_resolve_as_the_gateway_does(agent: AgentState) -> None:
    write_json(
        agent.config_path,
        {"agents": {"defaults": {"model": {"primary": "Sonnet"},
                                 "models": {"anthropic/claude-sonnet-4-5": {"alias": "sonnet"}}}}},
    )  # fmt: skip
    data = models_status(agent, now=NOW).to_json()
    assert (data["defaultModel"], data["resolvedDefault"]) == ("Sonnet", "anthropic/claude-sonnet-4-5")
    assert (
        "Default       : anthropic/claude-sonnet-4-5 (from Sonnet)" in models_status(agent, now=NOW).render()
    )
    write_json(agent.config_path, {"agents": {"defaults": {"model": "opus-4.5"}}})
    assert models_status(agent, now=NOW).to_json()["resolvedDefault"] == "anthropic/opus-4.5"


def test_sorting_follows_the_gateways_locale_compare() -> None:
    from clawdbot_nb.state.status import collation_key

    ids = ["anthropic:ab-1", "anthropic:Ab", "anthropic:a.b", "anthropic:ab", "anthropic:a_b",
           "anthropic:a-b", "anthropic:aB", "anthropic:a:b", "anthropic:ab2", "anthropic:a1"]  # fmt: skip
    # What node's `localeCompare` gives for these (checked against the gateway's node 22).
    assert sorted(ids, key=collation_key) == [
        "anthropic:a_b", "anthropic:a-b", "anthropic:a:b", "anthropic:a.b", "anthropic:a1",
        "anthropic:ab", "anthropic:aB", "anthropic:Ab", "anthropic:ab-1", "anthropic:ab2",
    ]  # fmt: skip


def test_oauth_labels_show_the_config_email_and_blocked_suffixes(agent: AgentState) -> None:
    write_json(
        agent.config_path,
        {
            "auth": {
                "profiles": {
                    "anthropic:me": {"provider": "anthropic", "mode": "oauth", "email": "cfg@example.com"}
                }
            }
        },
    )
    write_json(
        agent.agent_dir / "auth-profiles.json",
        {
            "version": 1,
            "profiles": {"anthropic:me": {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS,
                                          "refresh": OAUTH_REFRESH, "expires": NOW + 2 * HOUR, "email": "store@example.com"}},
            "usageStats": {"anthropic:me": {"disabledUntil": NOW + HOUR, "cooldownUntil": NOW + 3 * HOUR},
                           "ghost:x": {"cooldownUntil": NOW + MIN}},
        },
    )  # fmt: skip
    auth = models_status(agent, now=NOW).to_json()["auth"]
    assert auth["providers"][0]["profiles"]["labels"] == [
        "anthropic:me=OAuth (cfg@example.com) [disabled 3h]"
    ]
    assert auth["oauth"]["profiles"][0]["label"] == "anthropic:me (cfg@example.com)"
    assert auth["unusableProfiles"] == [
        {"profileId": "ghost:x", "kind": "cooldown", "until": NOW + MIN, "remainingMs": MIN},
        {"profileId": "anthropic:me", "provider": "anthropic", "kind": "disabled", "until": NOW + 3 * HOUR, "remainingMs": 3 * HOUR},
    ]  # fmt: skip


def test_huge_and_negative_expiries_render(agent: AgentState) -> None:
    write_json(
        agent.agent_dir / "auth-profiles.json",
        {"version": 1, "profiles": {
            "anthropic:far": {"type": "token", "provider": "anthropic", "token": SETUP_TOKEN, "expires": 10**18},
            "anthropic:neg": {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS, "refresh": OAUTH_REFRESH, "expires": -5},
        }},
    )  # fmt: skip
    report = models_status(agent, now=NOW)
    frame = report.profiles_frame()
    assert pd.isna(frame.loc["anthropic:far", "expires"]) and pd.isna(frame.loc["anthropic:far", "remaining"])
    profiles = {p["profileId"]: p for p in report.to_json()["auth"]["oauth"]["profiles"]}
    assert profiles["anthropic:neg"] | {"label": None} == {
        "profileId": "anthropic:neg", "provider": "anthropic", "type": "oauth", "status": "missing",
        "expiresAt": -5, "source": "store", "label": None,
    }  # fmt: skip
    assert "anthropic:neg unknown expires unknown" not in report.render()  # -5 is truthy for the gateway
    assert "anthropic:neg unknown expires in unknown" in report.render()
