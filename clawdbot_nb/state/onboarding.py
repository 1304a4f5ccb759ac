"""Saving credentials as auth profiles, as `clawdbot onboard` and `models auth` do.

Each function validates its input, writes the store under its lock and the config's
`auth.profiles` metadata (never a secret), and returns an `OnboardResult` that shows only a
masked secret. Profile ids follow the gateway: `anthropic:default` for API keys and
non-interactive tokens, `anthropic:manual` for pasted tokens, `anthropic:claude-cli` for the
Claude Code CLI login.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from clawdbot_nb.errors import ClawdbotError, CredentialError, UsageError
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.config import record_profile_metadata, update_config
from clawdbot_nb.state.cooldown import clear_cooldown
from clawdbot_nb.state.credentials import (
    API_KEY_MARKER,
    ApiKeyCredential,
    Credential,
    TokenCredential,
    normalize_pasted_secret,
    validate_api_key,
    validate_setup_token,
)
from clawdbot_nb.state.durations import parse_duration_ms
from clawdbot_nb.state.paths import display_path

DEFAULT_PROFILE_ID = "anthropic:default"
MANUAL_PROFILE_ID = "anthropic:manual"
AUTH_CHOICES = ("apiKey", "token", "setup-token", "oauth", "claude-cli", "skip")

_PROFILE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*:[A-Za-z0-9@._+-]+$")


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

    def __str__(self) -> str:
        text = (
            f"Saved {self.profile_id} ({self.credential_type} {self.masked_secret}) for agent "
            f"{self.agent_id} in {self.store_path}"
        )
        if self.expires_ms is not None:
            from clawdbot_nb.state.durations import format_remaining

            text += f"; expires in {format_remaining(self.expires_ms - now_ms())}"
        return text + (f". {self.note}" if self.note else "")


def normalize_profile_id(profile_id: str, provider: str) -> str:
    """`manual` → `anthropic:manual`; the provider part lowercased; bad ids refused."""
    candidate = profile_id.strip()
    if ":" not in candidate:
        candidate = f"{provider}:{candidate}"
    head, _, tail = candidate.partition(":")
    candidate = f"{head.lower()}:{tail}"
    if not _PROFILE_ID.match(candidate):
        raise UsageError(
            f"Invalid profile id {profile_id!r}.",
            fix="use provider:name with letters, digits, '.', '_', '-' or '@', e.g. anthropic:work",
        )
    return candidate


def token_profile_id(name: str | None, provider: str = "anthropic") -> str:
    """The wizard's `buildTokenProfileId`: a name slugified, blank → `default`."""
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").strip().lower()).strip("-")
    return f"{provider}:{slug or 'default'}"


def _save(
    agent: AgentState, profile_id: str, credential: Credential, mode: str, note: str | None = None
) -> OnboardResult:
    agent.store_file.update(lambda store: store.set_credential(profile_id, credential))
    update_config(
        agent.config_path,
        lambda data: record_profile_metadata(
            data, profile_id, provider=credential.provider, mode=mode, email=credential.email
        ),
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
    )


def _expiry(expires_in: str | None, argument: str) -> int | None:
    return None if not expires_in else now_ms() + parse_duration_ms(expires_in, argument=argument)


def save_api_key(agent: AgentState, key: str, *, profile_id: str = DEFAULT_PROFILE_ID) -> OnboardResult:
    """Store an Anthropic API key (`type: api_key`, config mode `api_key`)."""
    credential = ApiKeyCredential(provider="anthropic", key=validate_api_key(key))
    return _save(agent, normalize_profile_id(profile_id, "anthropic"), credential, "api_key")


def save_setup_token(
    agent: AgentState,
    token: str,
    *,
    profile_id: str = DEFAULT_PROFILE_ID,
    expires_in: str | None = None,
    expires_argument: str = "--token-expires-in",
) -> OnboardResult:
    """Store a `claude setup-token` after the setup-token checks (`type: token`)."""
    credential = TokenCredential(
        provider="anthropic",
        token=validate_setup_token(token),
        expires_ms=_expiry(expires_in, expires_argument),
    )
    return _save(agent, normalize_profile_id(profile_id, "anthropic"), credential, "token")


def paste_token(
    agent: AgentState,
    token: str,
    *,
    provider: str = "anthropic",
    profile_id: str | None = None,
    expires_in: str | None = None,
) -> OnboardResult:
    """`models auth paste-token`: any provider's token, non-empty; default id `<provider>:manual`.

    For anthropic an API key pasted here is refused (it belongs in `onboard --auth-choice apiKey`).
    """
    provider = provider.strip().lower()
    if not provider:
        raise UsageError("--provider is required.", fix="pass --provider anthropic")
    value = normalize_pasted_secret(token)
    if not value:
        raise CredentialError("Required", fix="paste the token (from `claude setup-token` for anthropic)")
    if provider == "anthropic" and value.startswith(API_KEY_MARKER):
        validate_setup_token(value)  # raises the "this is an API key" explanation
    credential = TokenCredential(
        provider=provider, token=value, expires_ms=_expiry(expires_in, "--expires-in")
    )
    target = normalize_profile_id(profile_id or f"{provider}:manual", provider)
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

    def store_it(store) -> None:
        existing = store.get(claude_cli.CLAUDE_CLI_PROFILE_ID)
        if existing is None or existing.type != credential.type:
            store.set_credential(claude_cli.CLAUDE_CLI_PROFILE_ID, credential)
        else:
            store.merge_credential(claude_cli.CLAUDE_CLI_PROFILE_ID, credential)

    agent.store_file.update(store_it)
    update_config(
        agent.config_path,
        lambda data: record_profile_metadata(
            data, claude_cli.CLAUDE_CLI_PROFILE_ID, provider="anthropic", mode="oauth"
        ),
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
        raise UsageError(
            f"Unknown --auth-choice {auth_choice!r}.",
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
    if (token_provider or "").strip().lower() != "anthropic":
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
    return agent.store_file.load().order(provider)


def set_order(agent: AgentState, provider: str, profile_ids: list[str]) -> list[str]:
    """Set the store's explicit order; every id must be a stored profile of that provider."""
    provider = provider.strip().lower()
    ids = [normalize_profile_id(pid, provider) for pid in profile_ids]
    if not ids:
        raise UsageError(
            "No profile ids given.", fix=f"e.g. models auth order set --provider {provider} {provider}:manual"
        )

    def apply(store) -> list[str]:
        unknown = [pid for pid in ids if pid not in store.profile_ids(provider)]
        if unknown:
            known = ", ".join(store.profile_ids(provider)) or "none"
            raise UsageError(
                f"Not a stored {provider} profile: {', '.join(unknown)} (stored: {known}).",
                fix=f"run clawdbot-nb models status to see the profiles of agent {agent.agent_id}",
            )
        store.set_order(provider, ids)
        return store.order(provider) or []

    return agent.store_file.update(apply)


def clear_order(agent: AgentState, provider: str = "anthropic") -> None:
    agent.store_file.update(lambda store: store.set_order(provider, None))


def remove_profile(agent: AgentState, profile_id: str) -> bool:
    """Delete a profile from this agent's store, and its metadata from the (shared) config unless
    another agent still stores a profile with that id."""
    removed = agent.store_file.update(lambda store: store.remove_profile(profile_id))
    if any(_may_hold(other, profile_id) for other in agent.other_store_files()):
        return removed

    def drop_metadata(data: dict) -> None:
        auth = data.get("auth")
        if isinstance(auth, dict):
            if isinstance(auth.get("profiles"), dict):
                auth["profiles"].pop(profile_id, None)
            if isinstance(auth.get("order"), dict):
                for provider, ids in auth["order"].items():
                    if isinstance(ids, list) and profile_id in ids:
                        auth["order"][provider] = [i for i in ids if i != profile_id]

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

    def apply(store) -> None:
        if store.get(profile_id) is None:
            raise UsageError(f"No profile {profile_id} in agent {agent.agent_id}.", fix="see models status")
        store.set_stats(profile_id, clear_cooldown(store.stats(profile_id)))

    agent.store_file.update(apply)
