"""Saving credentials as auth profiles, as `clawdbot onboard` and `models auth` do.

Each function validates its input, writes the store under its lock and the config's
`auth.profiles` metadata (never a secret), and returns an `OnboardResult` that shows only a
masked secret. Profile ids follow the gateway: `anthropic:default` for API keys and
non-interactive tokens, `anthropic:manual` for pasted tokens, `anthropic:claude-cli` for the
Claude Code CLI login.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from clawdbot_nb.errors import ClawdbotError, CredentialError, UsageError, command
from clawdbot_nb.state import claude_cli, ids
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.config import ClawdbotConfig, record_profile_metadata, update_config
from clawdbot_nb.state.cooldown import clear_cooldown
from clawdbot_nb.state.credentials import (
    ApiKeyCredential,
    Credential,
    TokenCredential,
    normalize_pasted_secret,
    validate_api_key,
    validate_pasted_token,
    validate_setup_token,
)
from clawdbot_nb.state.durations import parse_duration_ms
from clawdbot_nb.state.paths import display_path
from clawdbot_nb.state.store import AuthStore

DEFAULT_PROFILE_ID = "anthropic:default"
MANUAL_PROFILE_ID = "anthropic:manual"
AUTH_CHOICES = ("apiKey", "token", "setup-token", "oauth", "claude-cli", "skip")


@dataclass(frozen=True)
class OnboardResult:
    agent_id: str
    profile_id: str
    credential_type: str
    mode: str
    masked_secret: str
    store_path: str
    expires_ms: int | None = None
    note: str | None = None
    #: What was stored under the id before (type and masked secret), if anything.
    replaced: str | None = None

    def __str__(self) -> str:
        text = (
            f"Saved {self.profile_id} ({self.credential_type} {self.masked_secret}) for agent "
            f"{self.agent_id} in {self.store_path}"
        )
        if self.expires_ms is not None:
            from clawdbot_nb.state.durations import format_remaining

            text += f"; expires in {format_remaining(self.expires_ms - now_ms())}"
        if self.replaced:
            text += f"; it replaced {self.replaced}"
        return text + (f". {self.note}" if self.note else "")


def normalize_profile_id(profile_id: str, provider: str, *, argument: str = "--profile-id") -> str:
    """`manual` → `anthropic:manual`; the provider part normalised; bad ids refused."""
    return ids.profile_id(profile_id, provider, argument=argument)


token_profile_id = ids.token_profile_id


def _describe(credential: Credential | None) -> str | None:
    return None if credential is None else f"{credential.type} {credential.masked}"


def _check_before_writing(
    agent: AgentState, profile_id: str, provider: str, mode: str, email: str | None
) -> None:
    """Every check a save can fail, before anything is written: the store must be readable, the
    config readable, of the right shape, and able to take the profile's metadata."""
    agent.store_file.load()
    config = ClawdbotConfig.load(agent.config_path)
    try:
        config.auth_profiles, config.auth_order  # noqa: B018  (their shape errors name the field)
        record_profile_metadata(
            copy.deepcopy(config.data), profile_id, provider=provider, mode=mode, email=email
        )
    except ClawdbotError as error:
        if error.path is None:
            error.path = str(agent.config_path)
        raise


def _store_then_config(
    agent: AgentState,
    profile_id: str,
    change: Callable[[AuthStore], None],
    *,
    provider: str,
    mode: str,
    email: str | None = None,
) -> Credential | None:
    """Write the credential (under the store lock), then its config metadata; if the config
    write fails after all, the store is put back as it was. Returns what the id held before."""
    _check_before_writing(agent, profile_id, provider, mode, email)
    previous: dict = {}

    def apply(store: AuthStore) -> Credential | None:
        raw = store.data.get("profiles", {}).get(profile_id)
        previous["raw"] = copy.deepcopy(raw)
        replaced = store.get(profile_id)
        change(store)
        return replaced

    replaced = agent.store_file.update(apply)
    try:
        update_config(
            agent.config_path,
            lambda data: record_profile_metadata(data, profile_id, provider=provider, mode=mode, email=email),
        )
    except BaseException:
        agent.store_file.update(lambda store: store.restore_entry(profile_id, previous.get("raw")))
        raise
    return replaced


def _save(
    agent: AgentState, profile_id: str, credential: Credential, mode: str, note: str | None = None
) -> OnboardResult:
    replaced = _store_then_config(
        agent,
        profile_id,
        lambda store: store.set_credential(profile_id, credential),
        provider=credential.provider,
        mode=mode,
        email=credential.email,
    )
    return OnboardResult(
        agent_id=agent.agent_id,
        profile_id=profile_id,
        credential_type=credential.type,
        mode=mode,
        masked_secret=credential.masked,
        store_path=display_path(agent.store_file.path),
        expires_ms=credential.expires,
        note=note,
        replaced=_describe(replaced),
    )


def _expiry(expires_in: str | None, argument: str) -> int | None:
    return None if expires_in is None else now_ms() + parse_duration_ms(expires_in, argument=argument)


def save_api_key(agent: AgentState, key: str, *, profile_id: str = DEFAULT_PROFILE_ID) -> OnboardResult:
    """Store an Anthropic API key (`type: api_key`, config mode `api_key`)."""
    target = normalize_profile_id(profile_id, "anthropic")
    credential = ApiKeyCredential(provider="anthropic", key=validate_api_key(key))
    return _save(agent, target, credential, "api_key")


def save_setup_token(
    agent: AgentState,
    token: str,
    *,
    profile_id: str = DEFAULT_PROFILE_ID,
    expires_in: str | None = None,
    expires_argument: str = "--token-expires-in",
    profile_argument: str = "--token-profile-id",
) -> OnboardResult:
    """Store a `claude setup-token` after the setup-token checks (`type: token`)."""
    target = normalize_profile_id(profile_id, "anthropic", argument=profile_argument)
    expires = _expiry(expires_in, expires_argument)
    credential = TokenCredential(provider="anthropic", token=validate_setup_token(token), expires_ms=expires)
    return _save(agent, target, credential, "token")


def paste_token(
    agent: AgentState,
    token: str,
    *,
    provider: str = "anthropic",
    profile_id: str | None = None,
    expires_in: str | None = None,
) -> OnboardResult:
    """`models auth paste-token`: an Anthropic token (setup-token or OAuth access token);
    default id `anthropic:manual`. clawdbot-nb talks to Anthropic only, so other providers'
    tokens are refused (the gateway's own `paste-token` stores them)."""
    provider = ids.provider_id(provider, argument="--provider")
    if provider != "anthropic":
        raise UsageError(
            f"Tokens are accepted only for --provider anthropic (got {provider}).",
            fix=f"clawdbot-nb talks to Anthropic only; store a {provider} token with the gateway: "
            f"clawdbot models auth paste-token --provider {provider}",
        )
    target = normalize_profile_id(profile_id or MANUAL_PROFILE_ID, provider)
    expires = _expiry(expires_in, "--expires-in")
    credential = TokenCredential(provider=provider, token=validate_pasted_token(token), expires_ms=expires)
    return _save(agent, target, credential, "token")


def import_claude_cli(agent: AgentState, *, use_keychain: bool | None = None) -> OnboardResult:
    """Reuse the Claude Code CLI login as `anthropic:claude-cli` with config mode `oauth`
    (so the profile accepts both OAuth and setup-token credentials)."""
    login = claude_cli.require_claude_cli_login(use_keychain=use_keychain)
    credential = login.to_credential()
    note = (
        f"Read from {login.location}. Reusing Claude subscription credentials outside Claude Code is your "
        "choice; refreshed tokens are written back there so Claude Code keeps working"
    )
    if login.expires_ms <= now_ms() and not login.refresh:
        raise CredentialError(
            f"The Claude Code CLI login in {login.location} expired and has no refresh token.",
            fix="run `claude` to log in again, then retry",
        )

    def store_it(store: AuthStore) -> None:
        existing = store.get(claude_cli.CLAUDE_CLI_PROFILE_ID)
        if existing is None or existing.type != credential.type:
            store.set_credential(claude_cli.CLAUDE_CLI_PROFILE_ID, credential)
        else:
            store.merge_credential(claude_cli.CLAUDE_CLI_PROFILE_ID, credential)

    replaced = _store_then_config(
        agent, claude_cli.CLAUDE_CLI_PROFILE_ID, store_it, provider="anthropic", mode="oauth"
    )
    return OnboardResult(
        agent_id=agent.agent_id,
        profile_id=claude_cli.CLAUDE_CLI_PROFILE_ID,
        credential_type=credential.type,
        mode="oauth",
        masked_secret=credential.masked,
        store_path=display_path(agent.store_file.path),
        expires_ms=credential.expires,
        note=note,
        replaced=_describe(replaced),
    )


def onboard_non_interactive(
    agent: AgentState,
    auth_choice: str,
    *,
    anthropic_api_key: str | None = None,
    token: str | None = None,
    token_provider: str | None = None,
    token_profile_id: str | None = None,
    token_expires_in: str | None = None,
    env: Mapping[str, str] | None = None,
) -> OnboardResult | None:
    """`onboard --non-interactive --auth-choice ...` with the gateway's rules and messages."""
    env = os.environ if env is None else env
    if auth_choice not in AUTH_CHOICES:
        from clawdbot_nb.state.redaction import shown

        raise UsageError(
            f"Unknown --auth-choice {shown(auth_choice)}.",
            fix="use one of apiKey, token, claude-cli or skip",
        )
    if auth_choice == "skip":
        return None
    if auth_choice in ("setup-token", "oauth"):
        raise UsageError(
            f'Auth choice "{auth_choice}" requires interactive mode. Use "--auth-choice token" with '
            "--token and --token-provider anthropic.",
            fix="or run `clawdbot-nb models auth setup-token --provider anthropic` on a terminal",
        )
    if auth_choice == "claude-cli":
        return import_claude_cli(agent)
    if auth_choice == "apiKey":
        key = anthropic_api_key or env.get("ANTHROPIC_API_KEY", "")
        if not normalize_pasted_secret(key):
            existing = agent.load_store(sync_claude_cli=False).get(DEFAULT_PROFILE_ID)
            if isinstance(existing, ApiKeyCredential) and existing.key:
                return OnboardResult(
                    agent.agent_id,
                    DEFAULT_PROFILE_ID,
                    "api_key",
                    "api_key",
                    existing.masked,
                    display_path(agent.store_file.path),
                    note="kept the API key already stored",
                )
            raise CredentialError(
                "No API key given: pass --anthropic-api-key or set ANTHROPIC_API_KEY.",
                fix=(
                    "e.g. clawdbot-nb onboard --non-interactive --auth-choice apiKey "
                    '--anthropic-api-key "$ANTHROPIC_API_KEY"'
                ),
            )
        return save_api_key(agent, key)
    # token
    provider = ids.provider_id(token_provider, argument="--token-provider") if token_provider else None
    if provider != "anthropic":
        raise UsageError(
            "--auth-choice token requires --token-provider anthropic (the only provider allowed here).",
            fix="add --token-provider anthropic",
        )
    if not token:
        raise CredentialError("--auth-choice token requires --token.", fix="add --token <setup-token>")
    return save_setup_token(
        agent, token, profile_id=token_profile_id or DEFAULT_PROFILE_ID, expires_in=token_expires_in
    )


# -- order and maintenance ---------------------------------------------------------------------


def get_order(agent: AgentState, provider: str = "anthropic") -> list[str] | None:
    """The store's explicit order for `provider` (None when round robin applies)."""
    return agent.store_file.load().order(ids.provider_id(provider))


def set_order(agent: AgentState, provider: str, profile_ids: list[str]) -> list[str]:
    """Set the store's explicit order; every id must be a stored profile of that provider."""
    provider = ids.provider_id(provider)
    wanted = [ids.profile_id(pid, provider, argument="order set") for pid in profile_ids]
    if not wanted:
        raise UsageError(
            "No profile ids given.", fix=f"e.g. models auth order set --provider {provider} {provider}:manual"
        )

    def resolve(store: AuthStore) -> list[str]:
        stored = store.profile_ids(provider)
        resolved = [ids.lookup_profile_id(pid, stored, argument="order set") for pid in wanted]
        unknown = [pid for pid in resolved if pid not in stored]
        if unknown:
            known = ", ".join(stored) or "none"
            raise UsageError(
                f"Not a stored {provider} profile: {', '.join(unknown)} (stored: {known}).",
                fix=f"run {command('models status')} to see the profiles of agent {agent.agent_id}",
            )
        return resolved

    def apply(store: AuthStore) -> list[str]:
        store.set_order(provider, resolve(store))  # checked again inside the lock
        return store.order(provider) or []

    resolve(agent.store_file.load())  # refused before anything is created or locked
    return agent.store_file.update(apply)


def clear_order(agent: AgentState, provider: str = "anthropic") -> None:
    provider = ids.provider_id(provider)
    agent.store_file.update(lambda store: store.set_order(provider, None))


def _stored_id(agent: AgentState, profile_id: str) -> str:
    return ids.lookup_profile_id(profile_id, list(agent.store_file.load().data.get("profiles", {})))


def remove_profile(agent: AgentState, profile_id: str) -> bool:
    """Delete a profile from this agent's store, and its metadata from the (shared) config unless
    another agent still stores a profile with that id."""
    profile_id = _stored_id(agent, profile_id)
    if agent.config_path.exists():
        ClawdbotConfig.load(agent.config_path)  # unreadable: refuse before changing the store
    removed = agent.store_file.update(lambda store: store.remove_profile(profile_id))
    if any(_may_hold(other, profile_id) for other in agent.other_store_files()):
        return removed

    def drop_metadata(data: dict) -> None:
        auth = data.get("auth")
        if isinstance(auth, dict):
            if isinstance(auth.get("profiles"), dict):
                auth["profiles"].pop(profile_id, None)
            if isinstance(auth.get("order"), dict):
                for provider, listed in auth["order"].items():
                    if isinstance(listed, list) and profile_id in listed:
                        auth["order"][provider] = [i for i in listed if i != profile_id]

    if agent.config_path.exists():
        update_config(agent.config_path, drop_metadata)
    return removed


def _may_hold(store_file, profile_id: str) -> bool:
    try:
        return profile_id in store_file.load().data.get("profiles", {})
    except ClawdbotError:
        return True  # a store we cannot read may hold it: keep the shared metadata


def clear_profile_cooldown(agent: AgentState, profile_id: str) -> None:
    """`clearAuthProfileCooldown`: reset the error count and cooldown of one profile."""
    profile_id = _stored_id(agent, profile_id)

    def apply(store: AuthStore) -> None:
        if store.get(profile_id) is None:
            raise UsageError(f"No profile {profile_id} in agent {agent.agent_id}.", fix="see models status")
        store.set_stats(profile_id, clear_cooldown(store.stats(profile_id)))

    agent.store_file.update(apply)
