"""OAuth profiles as anthropic `AccessTokenProvider`s, and the refresh they share with the gateway.

The SDK's token cache asks the provider for a token; the provider answers from the store while
the access token is valid and refreshes it otherwise, or whenever the SDK says `force_refresh`
(after a 401, even if the stored expiry is still ahead: Clawdbot's #8223 is not copied).

A refresh runs under the cross-agent lock `<state>/locks/oauth-refresh/sha256-…` and the
store's lock, and re-reads the store inside them: when another process already refreshed,
its token is used and no second refresh is spent (refresh tokens are single use). The rotated
pair is written to the store (`expires = now + expires_in - 5 min`), to every other agent store
that held the same refresh token (Clawdbot's #26322 is not copied), and for
`anthropic:claude-cli` back to the Claude Code CLI's own store.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.credentials import OAuthCredential
from clawdbot_nb.state.lock import OAUTH_REFRESH_LOCK, FileLock
from clawdbot_nb.state.paths import oauth_refresh_lock_dir
from clawdbot_nb.state.redaction import mask_secret
from clawdbot_nb.state.troubleshooting import no_credentials_for_profile, oauth_refresh_failed

#: Claude Code's OAuth client id (pi-ai's, which Clawdbot uses).
CLAUDE_CODE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
DEFAULT_TOKEN_URL = "https://console.anthropic.com/v1/oauth/token"
#: Stored expiries are this much earlier than the server's, so a refresh happens in time.
EXPIRY_MARGIN_MS = 5 * 60_000
REFRESH_TIMEOUT_S = 30.0


class OAuthRefreshError(ClawdbotError):
    """The token endpoint refused or could not be reached."""


def token_url(explicit: str | None = None, env: dict[str, str] | None = None) -> str:
    """The refresh endpoint: explicit, `$CLAWDBOT_NB_OAUTH_TOKEN_URL`, `$ANTHROPIC_BASE_URL/v1/oauth/token`,
    else Anthropic's console endpoint."""
    env = os.environ if env is None else env
    if explicit:
        return explicit
    if env.get("CLAWDBOT_NB_OAUTH_TOKEN_URL"):
        return env["CLAWDBOT_NB_OAUTH_TOKEN_URL"]
    base = env.get("ANTHROPIC_BASE_URL", "").strip()
    if base:
        return base.rstrip("/") + "/v1/oauth/token"
    return DEFAULT_TOKEN_URL


def refresh_lock_path(state_dir: Path, provider: str, profile_id: str) -> Path:
    digest = hashlib.sha256(f"{provider}\0{profile_id}".encode()).hexdigest()
    return oauth_refresh_lock_dir(state_dir) / f"sha256-{digest}"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_ms: int

    def __repr__(self) -> str:
        return (
            f"TokenPair(access={mask_secret(self.access)!r}, refresh={mask_secret(self.refresh)!r}, "
            f"expires_ms={self.expires_ms!r})"
        )


def request_refresh(
    refresh_token: str,
    *,
    url: str,
    http_client_factory: Callable[[], Any],
    client_id: str = CLAUDE_CODE_CLIENT_ID,
    now: Callable[[], int] = now_ms,
) -> TokenPair:
    """POST the refresh_token grant; the error message never contains a token."""
    import httpx2

    body = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    try:
        with http_client_factory() as client:
            response = client.post(
                url,
                json=body,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=REFRESH_TIMEOUT_S,
            )
    except httpx2.HTTPError as error:
        raise OAuthRefreshError(
            f"Anthropic token refresh failed: {type(error).__name__} reaching {url}"
        ) from None
    if response.status_code >= 400:
        raise OAuthRefreshError(
            f"Anthropic token refresh failed: {response.status_code} {_error_text(response)}"
        )
    try:
        payload = response.json()
        access, expires_in = payload["access_token"], float(payload["expires_in"])
        rotated = payload.get("refresh_token") or refresh_token
        if not isinstance(access, str) or not access or not isinstance(rotated, str):
            raise ValueError("token fields missing")
    except (ValueError, KeyError, TypeError):
        raise OAuthRefreshError(
            "Anthropic token refresh failed: the endpoint's answer had no usable tokens"
        ) from None
    return TokenPair(access, rotated, now() + int(expires_in * 1000) - EXPIRY_MARGIN_MS)


def _error_text(response: Any) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):  # the API's own error shape
            return f"{error.get('type', 'error')}: {error.get('message', '')}".strip()
        description = payload.get("error_description")
        if error:
            return f"{error} ({description})" if description else str(error)
    return response.reason_phrase or "error"


def _propagate(agent: AgentState, old_refresh: str, pair: TokenPair) -> int:
    """Give the rotated pair to every other store still holding the spent refresh token."""
    updated = 0
    for store_file in agent.other_store_files():

        def apply(store) -> int:
            count = 0
            for pid, cred in store.profiles.items():
                if isinstance(cred, OAuthCredential) and cred.refresh == old_refresh:
                    store.merge_credential(
                        pid,
                        OAuthCredential(
                            provider=cred.provider,
                            access=pair.access,
                            refresh=pair.refresh,
                            expires_ms=pair.expires_ms,
                        ),
                    )
                    count += 1
            return count

        try:
            if store_file.path.exists() and old_refresh in store_file.path.read_text(encoding="utf-8"):
                updated += store_file.update(apply)
        except (ClawdbotError, OSError):
            continue  # a broken or unreadable other store must not fail this agent's request
    return updated


class OAuthRefresher:
    """Refreshes one agent's OAuth profiles; shared by every client of a workspace."""

    def __init__(
        self,
        agent: AgentState,
        *,
        http_client_factory: Callable[[], Any],
        url: str | None = None,
        now: Callable[[], int] = now_ms,
    ) -> None:
        self.agent = agent
        self.http_client_factory = http_client_factory
        self.url = token_url(url)
        self.now = now
        #: Refresh calls this process made (for diagnostics and tests).
        self.calls = 0

    def current(self, profile_id: str) -> OAuthCredential:
        credential = self.agent.store_file.load().get(profile_id)
        if not isinstance(credential, OAuthCredential) or not (credential.access or credential.refresh):
            raise no_credentials_for_profile(
                profile_id, self.agent.agent_id, self.agent.is_default, "no OAuth tokens"
            )
        return credential

    def refresh(self, profile_id: str, *, rejected_access: str | None = None) -> OAuthCredential:
        """A valid credential for `profile_id`, refreshing unless another process just did.

        `rejected_access` is the access token the API refused (a 401): a stored token equal to
        it is not trusted even if its expiry lies ahead.
        """
        provider = profile_id.split(":", 1)[0]
        lock = FileLock(refresh_lock_path(self.agent.state_dir, provider, profile_id), OAUTH_REFRESH_LOCK)
        with lock:
            spent: str | None = None
            pair: TokenPair | None = None
            with self.agent.store_file.transaction() as store:
                credential = store.get(profile_id)
                if not isinstance(credential, OAuthCredential):
                    raise no_credentials_for_profile(
                        profile_id, self.agent.agent_id, self.agent.is_default, "not an OAuth profile"
                    )
                if self.is_usable(credential, rejected_access):
                    return credential  # refreshed by someone else while we waited for the lock
                newer = self._newer_cli_login(profile_id, credential, rejected_access)
                if newer is not None:
                    store.merge_credential(profile_id, newer)
                    return newer
                if not credential.refresh:
                    raise oauth_refresh_failed(provider, profile_id, "the profile has no refresh token")
                try:
                    self.calls += 1
                    pair = request_refresh(
                        credential.refresh,
                        url=self.url,
                        http_client_factory=self.http_client_factory,
                        now=self.now,
                    )
                except OAuthRefreshError as error:
                    raise oauth_refresh_failed(provider, profile_id, error.message) from None
                spent = credential.refresh
                refreshed = OAuthCredential(
                    provider=credential.provider,
                    access=pair.access,
                    refresh=pair.refresh,
                    expires_ms=pair.expires_ms,
                )
                store.merge_credential(profile_id, refreshed)
            # The store is saved; now every other copy of the spent token, still under the
            # cross-agent lock so no other agent refreshes with it meanwhile.
            _propagate(self.agent, spent, pair)
            if profile_id == claude_cli.CLAUDE_CLI_PROFILE_ID:
                self._write_back_to_cli(spent, pair)
            return refreshed

    def is_usable(self, credential: OAuthCredential, rejected_access: str | None = None) -> bool:
        """Valid now, and not the token the API just refused."""
        if not credential.access or credential.expires is None or self.now() >= credential.expires:
            return False
        return rejected_access is None or credential.access != rejected_access

    def _newer_cli_login(
        self, profile_id: str, credential: OAuthCredential, rejected_access: str | None
    ) -> OAuthCredential | None:
        """For `anthropic:claude-cli`: a fresher login that Claude Code itself refreshed."""
        if profile_id != claude_cli.CLAUDE_CLI_PROFILE_ID:
            return None
        try:
            login = claude_cli.read_claude_cli_login(max_age_s=0)
        except ClawdbotError:
            return None
        if login is None or not login.refresh or login.access == credential.access:
            return None
        candidate = OAuthCredential(
            provider="anthropic", access=login.access, refresh=login.refresh, expires_ms=login.expires_ms
        )
        return candidate if self.is_usable(candidate, rejected_access) else None

    def _write_back_to_cli(self, spent: str, pair: TokenPair) -> None:
        try:
            login = claude_cli.read_claude_cli_login(max_age_s=0)
        except ClawdbotError:
            return
        # Only the login we refreshed: if Claude Code logged in anew meanwhile, keep its tokens.
        if login is not None and login.refresh == spent:
            claude_cli.write_back(login, access=pair.access, refresh=pair.refresh, expires_ms=pair.expires_ms)


class ProfileTokenProvider:
    """An `AccessTokenProvider` over one OAuth profile of the store.

    It remembers the access token it last handed to the SDK: when the SDK forces a refresh
    after a 401, that token is the one the API refused. If the store meanwhile holds another
    one (another process or kernel refreshed first), that one is used and no refresh token is
    spent; only when the store still holds the refused token is it refreshed.
    """

    def __init__(self, refresher: OAuthRefresher, profile_id: str) -> None:
        self.refresher = refresher
        self.profile_id = profile_id
        self._handed_out: str | None = None

    def __call__(self, *, force_refresh: bool = False):
        from anthropic.lib.credentials import AccessToken

        credential = self.refresher.current(self.profile_id)
        if force_refresh:
            rejected = self._handed_out or credential.access
            if credential.access == rejected or not self.refresher.is_usable(credential):
                credential = self.refresher.refresh(self.profile_id, rejected_access=rejected)
        elif not self.refresher.is_usable(credential):
            credential = self.refresher.refresh(self.profile_id)
        self._handed_out = credential.access
        expires_s = credential.expires // 1000 if credential.expires is not None else None
        return AccessToken(credential.access, expires_s)

    def __repr__(self) -> str:
        return f"ProfileTokenProvider(profile_id={self.profile_id!r})"
