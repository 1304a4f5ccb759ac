"""`POST /v1/oauth/token`: the refresh_token grant, with rotation and single-use refresh tokens.

Success (200): `{"token_type": "Bearer", "access_token", "expires_in", "refresh_token",
"scope", "organization": {...}, "account": {...}}`, the shape Claude Code receives; the old
refresh token is dead from then on. Failures use RFC 6749 §5.2 bodies, which is what the real
endpoint returns (public reports of Anthropic's token endpoint, 2026):
- reused, unknown or revoked refresh token: 400 `{"error": "invalid_grant",
  "error_description": "Refresh token not found or invalid"}`;
- refresh token past its lifetime: 400 `invalid_grant`, `"Refresh token expired"`;
- another grant type: 400 `unsupported_grant_type`; missing fields or an unreadable body:
  400 `invalid_request`; an unknown `client_id`: 401 `invalid_client` (RFC 6749 wording; the
  real text is unconfirmed).
The anthropic SDK's own refresh path reads exactly these RFC fields (`error`,
`error_description`). JSON and form-encoded bodies are both accepted.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from clawdbot_nb.sim.credentials import CredentialStore, RefreshError, fingerprint, mask_secret

__all__ = ["TokenResult", "describe_token_request", "handle_token_request"]

SCOPE = "user:inference user:profile"


@dataclass
class TokenResult:
    """The endpoint's answer; `organization` and `workspace` are set when a refresh succeeded."""

    status: int
    payload: dict
    organization: str | None = None
    workspace: str | None = None


def _error(status: int, error: str, description: str) -> TokenResult:
    return TokenResult(status, {"error": error, "error_description": description})


def _parse(body: bytes, content_type: str) -> dict | None:
    try:
        if "application/x-www-form-urlencoded" in content_type:
            return {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8")).items()}
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe_token_request(body: bytes, content_type: str) -> tuple[str | None, str | None, str | None]:
    """(grant type, masked refresh token, its fingerprint) of a token request, for the log."""
    data = _parse(body, content_type) or {}
    grant_type = data.get("grant_type")
    refresh_token = data.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        refresh_token = None
    return (
        grant_type if isinstance(grant_type, str) else None,
        mask_secret(refresh_token) if refresh_token else None,
        fingerprint(refresh_token) if refresh_token else None,
    )


def handle_token_request(
    store: CredentialStore,
    body: bytes,
    content_type: str,
    *,
    now: float,
    client_ids: frozenset[str],
    access_expires_in: float | None,
) -> TokenResult:
    """Run one token request against `store`; never raises."""
    data = _parse(body, content_type)
    if data is None:
        return _error(400, "invalid_request", "The request body must be JSON or form-encoded.")
    grant_type = data.get("grant_type")
    if not isinstance(grant_type, str) or not grant_type:
        return _error(400, "invalid_request", "Missing required parameter: grant_type")
    if grant_type != "refresh_token":
        return _error(400, "unsupported_grant_type", f"Grant type {grant_type!r} is not supported.")
    refresh_token = data.get("refresh_token")
    client_id = data.get("client_id")
    if not isinstance(refresh_token, str) or not refresh_token:
        return _error(400, "invalid_request", "Missing required parameter: refresh_token")
    if not isinstance(client_id, str) or not client_id:
        return _error(400, "invalid_request", "Missing required parameter: client_id")
    if client_id not in client_ids:
        return _error(401, "invalid_client", "Client authentication failed.")
    try:
        login = store.refresh(refresh_token, now=now, expires_in=access_expires_in)
    except RefreshError as error:
        return _error(error.status, error.error, error.description)
    payload = {
        "token_type": "Bearer",
        "access_token": login.access_token,
        "expires_in": round(login.expires_at - now),
        "refresh_token": login.refresh_token,
        "scope": SCOPE,
        "organization": {"uuid": login.organization, "name": "Simulated organization"},
        "account": {"uuid": login.login_id, "email_address": "demo@sim.invalid"},
    }
    return TokenResult(200, payload, login.organization, login.workspace)
