"""Reusing the login of the Claude Code CLI (`claude`), as the gateway's `anthropic:claude-cli`.

Reads `$CLAUDE_CONFIG_DIR/.credentials.json` (else `~/.claude/.credentials.json`) and, on
macOS, the keychain item `Claude Code-credentials` through `keyring`. Refreshed tokens are
written back where they came from, replacing only the three token fields: Claude Code's
other fields (`scopes`, `subscriptionType`, ...) are kept verbatim. Reuse is opt-in: the
profile is kept in sync only once the user onboarded it.
"""

from __future__ import annotations

import copy
import getpass
import json
import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawdbot_nb.errors import NoCredentialsError, ParseError, command
from clawdbot_nb.state.credentials import Credential, OAuthCredential, TokenCredential, mask_secret
from clawdbot_nb.state.jsonfile import read_json_object, write_json_atomic
from clawdbot_nb.state.paths import claude_config_dir
from clawdbot_nb.state.store import AuthStore

CLAUDE_CLI_PROFILE_ID = "anthropic:claude-cli"
CREDENTIALS_FILENAME = ".credentials.json"
KEYCHAIN_SERVICE = "Claude Code-credentials"
KEYCHAIN_WRITE_ACCOUNT = "Claude Code"
#: A stored profile this close to expiry is re-synced from the CLI.
NEAR_EXPIRY_MS = 10 * 60_000
#: CLI reads are cached in memory this long (the gateway's EXTERNAL_CLI_SYNC_TTL_MS).
READ_CACHE_S = 15 * 60


@dataclass(frozen=True, repr=False)
class ClaudeCliLogin:
    """The `claudeAiOauth` part of a Claude Code login and where it was read from."""

    access: str
    refresh: str | None
    expires_ms: int
    source: str  # "file" or "keychain"
    location: str  # the file path, or the keychain service/account

    def to_credential(self) -> Credential:
        """With a refresh token an `oauth` credential; without one a static `token`."""
        if self.refresh:
            return OAuthCredential(
                provider="anthropic", access=self.access, refresh=self.refresh, expires_ms=self.expires_ms
            )
        return TokenCredential(provider="anthropic", token=self.access, expires_ms=self.expires_ms)

    def __repr__(self) -> str:
        return (
            f"ClaudeCliLogin(access={mask_secret(self.access)!r}, refresh={mask_secret(self.refresh)!r}, "
            f"expires_ms={self.expires_ms}, source={self.source!r}, location={self.location!r})"
        )


def credentials_file() -> Path:
    return claude_config_dir() / CREDENTIALS_FILENAME


def _login_from_payload(payload: Any, *, source: str, location: str) -> ClaudeCliLogin | None:
    oauth = payload.get("claudeAiOauth") if isinstance(payload, dict) else None
    if not isinstance(oauth, dict):
        return None
    access, refresh, expires = oauth.get("accessToken"), oauth.get("refreshToken"), oauth.get("expiresAt")
    if not isinstance(access, str) or not access:
        return None
    if isinstance(expires, float) and not math.isfinite(expires):
        raise ParseError(
            f"Claude Code credentials field claudeAiOauth.expiresAt is {expires!r}, not a time",
            path=location if source == "file" else None,
            fix="log in again with `claude` (it rewrites the file), or correct expiresAt (epoch ms)",
        )
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or expires <= 0:
        return None
    return ClaudeCliLogin(
        access=access,
        refresh=refresh if isinstance(refresh, str) and refresh else None,
        expires_ms=int(expires),
        source=source,
        location=location,
    )


def _use_keychain(use_keychain: bool | None) -> bool:
    return sys.platform == "darwin" if use_keychain is None else use_keychain


def _keychain_accounts() -> list[str]:
    # Claude Code stores the item under the login name; the gateway wrote "Claude Code".
    accounts = []
    try:
        accounts.append(getpass.getuser())
    except Exception:  # getuser raises when no login name can be found (containers)
        pass
    accounts.append(KEYCHAIN_WRITE_ACCOUNT)
    return accounts


def _read_keychain() -> tuple[dict[str, Any], str] | None:
    import keyring
    from keyring.errors import KeyringError

    try:
        for account in _keychain_accounts():
            secret = keyring.get_password(KEYCHAIN_SERVICE, account)
            if secret:
                try:
                    return json.loads(secret), account
                except json.JSONDecodeError:
                    return None
    except KeyringError:
        return None
    return None


_cache_lock = threading.Lock()
_cache: dict[tuple[str, bool], tuple[float, ClaudeCliLogin | None]] = {}


def clear_read_cache() -> None:
    with _cache_lock:
        _cache.clear()


def read_claude_cli_login(
    *, use_keychain: bool | None = None, max_age_s: float = READ_CACHE_S
) -> ClaudeCliLogin | None:
    """The current Claude Code login, or None when there is none on this machine.

    On macOS the keychain is tried first, then the file. Results are cached for 15 minutes
    (pass `max_age_s=0` to read again). An unparsable credentials file raises `ParseError`.
    """
    path = credentials_file()
    keychain = _use_keychain(use_keychain)
    key = (str(path), keychain)
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < max_age_s:
            return cached[1]
    login: ClaudeCliLogin | None = None
    if keychain:
        found = _read_keychain()
        if found is not None:
            payload, account = found
            login = _login_from_payload(
                payload, source="keychain", location=f"keychain:{KEYCHAIN_SERVICE}/{account}"
            )
    if login is None:
        payload = read_json_object(path, what="Claude Code credentials file")
        if payload is not None:
            login = _login_from_payload(payload, source="file", location=str(path))
    with _cache_lock:
        _cache[key] = (now, login)
    return login


def require_claude_cli_login(*, use_keychain: bool | None = None) -> ClaudeCliLogin:
    """Like `read_claude_cli_login` (uncached), but says what to do when there is no login."""
    login = read_claude_cli_login(use_keychain=use_keychain, max_age_s=0)
    if login is None:
        where = credentials_file()
        raise NoCredentialsError(
            f"No Claude Code CLI login found (looked in {where}"
            + (" and the macOS keychain" if _use_keychain(use_keychain) else "")
            + ").",
            fix=(
                "run `claude` and log in on this machine (or set CLAUDE_CONFIG_DIR to where its "
                "credentials live); on a remote kernel, make a token with `claude setup-token` "
                f"elsewhere and use {command('models auth paste-token --provider anthropic')}"
            ),
        )
    return login


def _updated_payload(payload: dict[str, Any], access: str, refresh: str, expires_ms: int) -> dict[str, Any]:
    updated = copy.deepcopy(payload)
    oauth = updated.setdefault("claudeAiOauth", {})
    oauth.update(accessToken=access, refreshToken=refresh, expiresAt=expires_ms)
    return updated


def write_back(login: ClaudeCliLogin, *, access: str, refresh: str, expires_ms: int) -> bool:
    """Put refreshed tokens back where `login` came from, so Claude Code keeps working.

    Refresh tokens rotate: without this, the CLI would hold a dead one. Only `accessToken`,
    `refreshToken` and `expiresAt` change; the file is rewritten only if it still exists
    and parses. Returns whether anything was written.
    """
    if login.source == "keychain":
        import keyring
        from keyring.errors import KeyringError

        account = login.location.rsplit("/", 1)[-1]
        try:
            current = keyring.get_password(KEYCHAIN_SERVICE, account)
            payload = json.loads(current) if current else {}
            keyring.set_password(
                KEYCHAIN_SERVICE, account, json.dumps(_updated_payload(payload, access, refresh, expires_ms))
            )
        except (KeyringError, json.JSONDecodeError):
            return False
        clear_read_cache()
        return True
    path = Path(login.location)
    try:
        payload = read_json_object(path, what="Claude Code credentials file")
    except ParseError:
        return False  # never write over a file we cannot read
    if payload is None:
        return False
    write_json_atomic(path, _updated_payload(payload, access, refresh, expires_ms))
    clear_read_cache()
    return True


def sync_claude_cli_profile(store: AuthStore, login: ClaudeCliLogin, now_ms: int) -> bool:
    """Bring `anthropic:claude-cli` up to date with the CLI login (the gateway's rules).

    Considered only when the profile is missing, not an anthropic profile, a static token,
    or within 10 minutes of expiry; updated when it is missing or expired, or when the CLI's
    login expires later. A `token` is upgraded to `oauth`; an `oauth` is never downgraded.
    Returns whether the store changed.
    """
    existing = store.get(CLAUDE_CLI_PROFILE_ID)
    fresh = (
        existing is not None and existing.expires is not None and existing.expires > now_ms + NEAR_EXPIRY_MS
    )
    if (
        existing is not None
        and existing.provider == "anthropic"
        and not isinstance(existing, TokenCredential)
        and fresh
    ):
        return False
    incoming = login.to_credential()
    if isinstance(existing, OAuthCredential) and not isinstance(incoming, OAuthCredential):
        return False
    stored_expiry = existing.expires if existing is not None else None
    should_update = (
        existing is None
        or existing.provider != "anthropic"
        or stored_expiry is None
        or stored_expiry <= now_ms
        or login.expires_ms > stored_expiry
        or (isinstance(existing, TokenCredential) and isinstance(incoming, OAuthCredential))
    )
    if not should_update:
        return False
    if existing is not None and existing.type == incoming.type:
        store.merge_credential(CLAUDE_CLI_PROFILE_ID, incoming)  # keeps fields like email
    else:
        store.set_credential(CLAUDE_CLI_PROFILE_ID, incoming)
    return True
