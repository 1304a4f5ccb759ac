from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clawdbot_nb.errors import ParseError
from clawdbot_nb.state.config import ClawdbotConfig, record_profile_metadata, update_config
from clawdbot_nb.state.cooldown import CooldownPolicy
from tests.state.fakes import read_json, write_json


def config_at(tmp_path: Path, text: str) -> ClawdbotConfig:
    path = tmp_path / "clawdbot.json"
    path.write_text(text)
    return ClawdbotConfig.load(path)


DOCS_SNIPPET = """
// the Clawdbot docs' config, JSON5 style
{
  env: { ANTHROPIC_API_KEY: "sk-ant-xyz", vars: { EXTRA: "1" }, shellEnv: { enabled: true } },
  agents: {
    defaults: {
      model: { primary: "anthropic/claude-opus-4-5" },
      models: {
        "anthropic/claude-opus-4-5": { params: { cacheControlTtl: "1h" } },
        "anthropic/claude-haiku-4-5": { params: { cacheControlTtl: "5m", cacheRetention: "long" } },
      },
    },
  },
  auth: {
    profiles: { "anthropic:default": { provider: "anthropic", mode: "api_key" } },
    order: { anthropic: ["anthropic:default", " "] },
    cooldowns: { billingBackoffHours: 2, failureWindowHours: 12 },
  },
  somethingNew: { keep: true },
}
"""


def test_typed_access(tmp_path: Path) -> None:
    config = config_at(tmp_path, DOCS_SNIPPET)
    assert config.env == {"ANTHROPIC_API_KEY": "sk-ant-xyz", "EXTRA": "1"}
    assert config.primary_model == "anthropic/claude-opus-4-5"
    assert config.cache_ttl("claude-opus-4-5").ttl == "1h"
    assert config.cache_ttl("claude-opus-4-5-20251101").ttl == "1h"  # the dated id finds the short key
    haiku = config.cache_ttl("claude-haiku-4-5")
    assert (haiku.ttl, haiku.source.endswith("cacheRetention")) == ("1h", True)  # cacheRetention wins
    assert config.cache_ttl("claude-sonnet-5-5") is None
    assert config.auth_profiles["anthropic:default"].mode == "api_key"
    assert config.auth_order == {"anthropic": ["anthropic:default"]}
    assert config.cooldown_policy == CooldownPolicy(billing_backoff_hours=2, failure_window_hours=12)


@pytest.mark.parametrize(("retention", "ttl"), [("none", "none"), ("short", "5m"), ("long", "1h")])
def test_cache_retention_words(tmp_path: Path, retention: str, ttl: str) -> None:
    config = config_at(tmp_path, f'{{agents: {{defaults: {{params: {{cacheRetention: "{retention}"}}}}}}}}')
    assert config.cache_ttl("claude-opus-4-5").ttl == ttl


def test_agent_params_override_model_params(tmp_path: Path) -> None:
    config = config_at(
        tmp_path,
        '{agents: {defaults: {models: {"anthropic/claude-opus-4-5": {params: {cacheControlTtl: "1h"}}}},'
        ' list: [{id: "cheap", params: {cacheControlTtl: "5m"}}]}}',
    )
    assert config.cache_ttl("claude-opus-4-5", "cheap").ttl == "5m"
    assert config.cache_ttl("claude-opus-4-5", "main").ttl == "1h"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{agents: {defaults: {models: {"anthropic/claude-opus-4-5": {params: {cacheControlTtl: "2h"}}}}}}',
         'agents.defaults.models["anthropic/claude-opus-4-5"].params.cacheControlTtl'),
        ('{auth: {profiles: {"anthropic:default": {provider: "anthropic", mode: "password"}}}}',
         'auth.profiles["anthropic:default"].mode'),
        ('{auth: {profiles: []}}', "auth.profiles"),
        ('{auth: {order: {anthropic: "anthropic:default"}}}', "auth.order.anthropic"),
        ('{auth: {cooldowns: {billingMaxHours: "a day"}}}', "auth.cooldowns.billingMaxHours"),
        ('{agents: {defaults: {model: 3}}}', "agents.defaults.model"),
    ],
)  # fmt: skip
def test_wrong_types_name_the_field_and_the_fix(tmp_path: Path, text: str, field: str) -> None:
    config = config_at(tmp_path, text)
    with pytest.raises(ParseError) as info:
        config.cache_ttl("claude-opus-4-5")
        config.auth_profiles  # noqa: B018
        config.auth_order  # noqa: B018
        config.cooldown_policy  # noqa: B018
        config.primary_model  # noqa: B018
    assert f"config field {field} must be" in str(info.value)
    assert "Fix:" in str(info.value)


def test_update_config_keeps_unknown_keys_writes_json_and_rotates_backups(tmp_path: Path) -> None:
    path = tmp_path / "clawdbot.json"
    path.write_text(DOCS_SNIPPET)
    update_config(
        path,
        lambda data: record_profile_metadata(data, "anthropic:manual", provider="anthropic", mode="token"),
    )
    data = read_json(path)
    assert data["somethingNew"] == {"keep": True}
    assert data["env"]["shellEnv"] == {"enabled": True}
    assert data["auth"]["profiles"]["anthropic:manual"] == {"provider": "anthropic", "mode": "token"}
    # An existing order list gets the new id in front; comments are gone (plain JSON, like the gateway).
    assert data["auth"]["order"]["anthropic"][0] == "anthropic:manual"
    assert (tmp_path / "clawdbot.json.bak").read_text() == DOCS_SNIPPET
    assert path.read_text().startswith('{\n  "env": {')


def test_order_list_is_never_created_by_metadata() -> None:
    data: dict = {}
    record_profile_metadata(data, "anthropic:default", provider="anthropic", mode="api_key")
    assert data == {"auth": {"profiles": {"anthropic:default": {"provider": "anthropic", "mode": "api_key"}}}}


def test_unchanged_update_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / "clawdbot.json"
    path.write_text('{"a": 1}\n')
    update_config(path, lambda data: None)
    assert not (tmp_path / "clawdbot.json.bak").exists()


def test_a_config_that_cannot_be_parsed_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "clawdbot.json"
    path.write_text("{ auth: { profiles: ")
    with pytest.raises(ParseError):
        update_config(path, lambda data: data.update(x=1))
    assert path.read_text() == "{ auth: { profiles: "


def _key_paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _key_paths(value, (*prefix, key))
    elif isinstance(node, list):
        yield (*prefix, "[]")
    else:
        yield prefix


def test_every_config_key_we_write_is_in_the_gateways_schema(state_dir: Path) -> None:
    """The gateway refuses to run with one key its (strict) schema does not know: drive every
    writer of ours and check each key path it leaves against what the schema allows."""
    from clawdbot_nb.state import claude_cli, onboarding
    from clawdbot_nb.state.agent import AgentState
    from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN

    agent = AgentState.resolve()
    write_json(Path(os.environ["CLAUDE_CONFIG_DIR"]) / ".credentials.json", {"claudeAiOauth": {
        "accessToken": OAUTH_ACCESS, "refreshToken": OAUTH_REFRESH, "expiresAt": 4_000_000_000_000}})  # fmt: skip
    claude_cli.clear_read_cache()
    onboarding.save_api_key(agent, API_KEY)
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:work", expires_in="30d")
    onboarding.paste_token(agent, SETUP_TOKEN, provider="anthropic")
    onboarding.import_claude_cli(agent)
    onboarding.set_order(agent, "anthropic", ["anthropic:work"])
    onboarding.remove_profile(agent, "anthropic:work")
    data = json.loads(agent.config_path.read_text())
    data["auth"]["order"] = {"anthropic": ["anthropic:manual"]}
    agent.config_path.write_text(json.dumps(data))
    onboarding.save_api_key(agent, API_KEY)  # moves the id to the front of an existing order
    allowed = {("auth", "profiles", "*", "provider"), ("auth", "profiles", "*", "mode"),
               ("auth", "profiles", "*", "email"), ("auth", "order", "*", "[]")}  # fmt: skip
    written = {
        (p[0], p[1], "*", *p[3:]) if len(p) > 3 else p
        for p in _key_paths(json.loads(agent.config_path.read_text()))
    }
    assert written <= allowed, written - allowed
    assert {p["mode"] for p in json.loads(agent.config_path.read_text())["auth"]["profiles"].values()} <= {
        "api_key", "oauth", "token"
    }  # fmt: skip
