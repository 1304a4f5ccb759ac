from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from clawdbot_nb.errors import NoCredentialsError, ParseError
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.credentials import OAuthCredential, TokenCredential
from clawdbot_nb.state.onboarding import import_claude_cli
from clawdbot_nb.state.store import AuthStore
from tests.state.fakes import OAUTH_ACCESS, OAUTH_REFRESH, read_json, write_json

NOW = int(time.time() * 1000)
HOUR = 3_600_000


def cli_file() -> Path:
    return claude_cli.credentials_file()


def write_cli(expires: int, *, refresh: str | None = OAUTH_REFRESH, access: str = OAUTH_ACCESS) -> Path:
    oauth = {
        "accessToken": access,
        "expiresAt": expires,
        "scopes": ["user:inference"],
        "subscriptionType": "max",
    }
    if refresh:
        oauth["refreshToken"] = refresh
    return write_json(cli_file(), {"claudeAiOauth": oauth, "mcpOAuth": {"server": {"token": "other"}}})


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_claude_config_dir_is_honoured(isolated_home: Path) -> None:
    assert cli_file() == isolated_home / ".claude" / ".credentials.json"


def test_reads_the_file_login(isolated_home: Path) -> None:
    write_cli(NOW + HOUR)
    login = claude_cli.read_claude_cli_login(use_keychain=False)
    assert login is not None
    assert (login.access, login.refresh, login.expires_ms, login.source) == (
        OAUTH_ACCESS,
        OAUTH_REFRESH,
        NOW + HOUR,
        "file",
    )
    assert isinstance(login.to_credential(), OAuthCredential)
    assert OAUTH_ACCESS not in repr(login) and OAUTH_REFRESH not in repr(login)


def test_login_without_refresh_is_a_static_token(isolated_home: Path) -> None:
    write_cli(NOW + HOUR, refresh=None)
    login = claude_cli.read_claude_cli_login(use_keychain=False)
    assert isinstance(login.to_credential(), TokenCredential)


@pytest.mark.parametrize(
    "payload",
    [{}, {"claudeAiOauth": {"accessToken": "x"}}, {"claudeAiOauth": {"accessToken": "x", "expiresAt": 0}}],
)
def test_incomplete_logins_are_ignored(isolated_home: Path, payload: dict) -> None:
    write_json(cli_file(), payload)
    assert claude_cli.read_claude_cli_login(use_keychain=False) is None


def test_an_unparsable_cli_file_is_reported(isolated_home: Path) -> None:
    cli_file().parent.mkdir(parents=True)
    cli_file().write_text("{not json")
    with pytest.raises(ParseError) as info:
        claude_cli.read_claude_cli_login(use_keychain=False)
    assert ".credentials.json" in str(info.value)


def test_no_login_explains_what_to_do(isolated_home: Path) -> None:
    with pytest.raises(NoCredentialsError) as info:
        claude_cli.require_claude_cli_login(use_keychain=False)
    assert "No Claude Code CLI login found" in str(info.value)
    assert "setup-token" in info.value.fix


def test_reads_are_cached_for_fifteen_minutes(isolated_home: Path) -> None:
    write_cli(NOW + HOUR)
    first = claude_cli.read_claude_cli_login(use_keychain=False)
    write_cli(NOW + 2 * HOUR)
    assert claude_cli.read_claude_cli_login(use_keychain=False) == first
    assert claude_cli.read_claude_cli_login(use_keychain=False, max_age_s=0).expires_ms == NOW + 2 * HOUR


def test_keychain_is_read_first(isolated_home: Path, memory_keyring: MemoryKeyring) -> None:
    write_cli(NOW + HOUR, access="sk-ant-oat01-from-the-file-xxxxxxxxxxxx")
    memory_keyring.set_password(
        "Claude Code-credentials",
        "Claude Code",
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": OAUTH_ACCESS,
                    "refreshToken": OAUTH_REFRESH,
                    "expiresAt": NOW + 3 * HOUR,
                    "subscriptionType": "pro",
                }
            }
        ),
    )
    login = claude_cli.read_claude_cli_login(use_keychain=True)
    assert login.source == "keychain" and login.access == OAUTH_ACCESS
    claude_cli.write_back(login, access="sk-ant-oat01-new", refresh="sk-ant-ort01-new", expires_ms=NOW + 9)
    stored = memory_keyring.get_password("Claude Code-credentials", "Claude Code")
    assert '"subscriptionType": "pro"' in stored and '"accessToken": "sk-ant-oat01-new"' in stored


def test_write_back_replaces_only_the_three_token_fields(isolated_home: Path) -> None:
    path = write_cli(NOW + HOUR)
    login = claude_cli.read_claude_cli_login(use_keychain=False)
    assert claude_cli.write_back(
        login, access="sk-ant-oat01-rotated", refresh="sk-ant-ort01-rotated", expires_ms=NOW + 5
    )
    data = read_json(path)
    assert data["claudeAiOauth"] == {
        "accessToken": "sk-ant-oat01-rotated",
        "refreshToken": "sk-ant-ort01-rotated",
        "expiresAt": NOW + 5,
        "scopes": ["user:inference"],
        "subscriptionType": "max",
    }
    assert data["mcpOAuth"] == {"server": {"token": "other"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_back_never_creates_or_clobbers_a_file(isolated_home: Path) -> None:
    path = write_cli(NOW + HOUR)
    login = claude_cli.read_claude_cli_login(use_keychain=False)
    path.unlink()
    assert not claude_cli.write_back(login, access="a", refresh="b", expires_ms=1)
    assert not path.exists()
    path.write_text("{broken")
    assert not claude_cli.write_back(login, access="a", refresh="b", expires_ms=1)
    assert path.read_text() == "{broken"


def login(expires: int, refresh: str | None = OAUTH_REFRESH) -> claude_cli.ClaudeCliLogin:
    return claude_cli.ClaudeCliLogin(OAUTH_ACCESS, refresh, expires, "file", "x")


def stored(credential) -> AuthStore:
    store = AuthStore.empty()
    store.set_credential("anthropic:claude-cli", credential)
    return store


def test_sync_creates_missing_profile() -> None:
    store = AuthStore.empty()
    assert claude_cli.sync_claude_cli_profile(store, login(NOW + HOUR), NOW)
    assert store.get("anthropic:claude-cli").expires == NOW + HOUR


def test_sync_leaves_a_fresh_oauth_profile_alone() -> None:
    store = stored(OAuthCredential(provider="anthropic", access="old", refresh="r", expires_ms=NOW + HOUR))
    assert not claude_cli.sync_claude_cli_profile(store, login(NOW + 2 * HOUR), NOW)


def test_sync_updates_when_near_expiry_and_cli_is_newer() -> None:
    store = stored(
        OAuthCredential(
            provider="anthropic", access="old", refresh="r", expires_ms=NOW + 5 * 60_000, email="e@x"
        )
    )
    assert claude_cli.sync_claude_cli_profile(store, login(NOW + HOUR), NOW)
    cred = store.get("anthropic:claude-cli")
    assert cred.access == OAUTH_ACCESS and cred.email == "e@x"


def test_sync_does_not_take_an_older_cli_login() -> None:
    store = stored(
        OAuthCredential(provider="anthropic", access="old", refresh="r", expires_ms=NOW + 5 * 60_000)
    )
    assert not claude_cli.sync_claude_cli_profile(store, login(NOW + 60_000), NOW)


def test_sync_upgrades_token_to_oauth_and_never_downgrades() -> None:
    store = stored(TokenCredential(provider="anthropic", token="t", expires_ms=NOW + 10 * HOUR))
    assert claude_cli.sync_claude_cli_profile(store, login(NOW + HOUR), NOW)
    assert isinstance(store.get("anthropic:claude-cli"), OAuthCredential)
    assert "token" not in store.data["profiles"]["anthropic:claude-cli"]
    expired = stored(OAuthCredential(provider="anthropic", access="a", refresh="r", expires_ms=NOW - 1))
    assert not claude_cli.sync_claude_cli_profile(expired, login(NOW + HOUR, refresh=None), NOW)


def test_onboard_claude_cli_writes_profile_and_oauth_mode(isolated_home: Path) -> None:
    write_cli(NOW + HOUR)
    agent = AgentState.resolve()
    result = import_claude_cli(agent, use_keychain=False)
    assert result.profile_id == "anthropic:claude-cli" and result.mode == "oauth"
    assert read_json(agent.config_path)["auth"]["profiles"]["anthropic:claude-cli"] == {
        "provider": "anthropic",
        "mode": "oauth",
    }
    entry = read_json(agent.agent_dir / "auth-profiles.json")["profiles"]["anthropic:claude-cli"]
    assert entry == {
        "type": "oauth",
        "provider": "anthropic",
        "access": OAUTH_ACCESS,
        "refresh": OAUTH_REFRESH,
        "expires": NOW + HOUR,
    }
    assert OAUTH_ACCESS not in str(result)


def test_opted_in_profile_is_synced_on_load(isolated_home: Path) -> None:
    write_cli(NOW - 1)
    agent = AgentState.resolve()
    import_claude_cli(agent, use_keychain=False)
    write_cli(NOW + 5 * HOUR, access="sk-ant-oat01-" + "n" * 40 + "NEWW")
    claude_cli.clear_read_cache()
    store = agent.load_store()
    assert store.get("anthropic:claude-cli").access.endswith("NEWW")
    assert (
        read_json(agent.agent_dir / "auth-profiles.json")["profiles"]["anthropic:claude-cli"]["expires"]
        == NOW + 5 * HOUR
    )


def test_without_opt_in_nothing_is_imported(isolated_home: Path) -> None:
    write_cli(NOW + HOUR)
    assert AgentState.resolve().load_store().profiles == {}


def test_reuse_is_opted_into_per_agent(isolated_home: Path) -> None:
    write_cli(NOW + HOUR)
    import_claude_cli(AgentState.resolve(), use_keychain=False)
    other = AgentState.resolve("other")
    assert other.load_store().profiles == {}
