"""Credentials the simulator accepts, how a request proves one, and the 401s when it cannot.

Only fingerprints of secrets are stored; logs and reprs show the masked form (well-known prefix
and last 4 characters). Each credential belongs to an organisation and workspace, which scope
its prompt cache and fill the `anthropic-organization-id` / `anthropic-workspace-id` headers.

401 messages are the real API's (reference §5.2, §9.2 and public issue threads):
`invalid x-api-key` (unknown key in `x-api-key`), `Invalid bearer token` (unknown Bearer),
`x-api-key header is required` (no credential), `OAuth authentication is currently not
supported.` (an OAuth token without `anthropic-beta: oauth-2025-04-20`, or in `x-api-key`),
`OAuth token has expired. Please obtain a new token or refresh your existing token.`.
The revoked-OAuth text `OAuth token has been revoked. Please obtain a new token.` is unconfirmed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clawdbot_nb.errors import ParseError, UsageError
from clawdbot_nb.sim.api_errors import ApiError
from clawdbot_nb.sim.demo import DEMO_ORGANIZATION_ID, DEMO_WORKSPACE_ID

__all__ = [
    "OAUTH_BETA",
    "Credential",
    "CredentialStore",
    "OAuthLogin",
    "Principal",
    "fingerprint",
    "load_credentials_file",
    "mask_secret",
]

OAUTH_BETA = "oauth-2025-04-20"
_KNOWN_PREFIXES = ("sk-ant-api03-", "sk-ant-oat01-", "sk-ant-ort01-", "sk-ant-admin01-")
_OAUTH_PREFIX = "sk-ant-oat"

MSG_NO_CREDENTIAL = "x-api-key header is required"
MSG_INVALID_KEY = "invalid x-api-key"
MSG_INVALID_BEARER = "Invalid bearer token"
MSG_OAUTH_UNSUPPORTED = "OAuth authentication is currently not supported."
MSG_OAUTH_EXPIRED = "OAuth token has expired. Please obtain a new token or refresh your existing token."
MSG_OAUTH_REVOKED = "OAuth token has been revoked. Please obtain a new token."


def fingerprint(secret: str) -> str:
    """A stable, irreversible id for a secret (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def mask_secret(secret: str | None) -> str:
    """At most the well-known prefix and the last 4 characters: `sk-ant-api03-…WXYZ`."""
    if not secret:
        return ""
    prefix = next((p for p in _KNOWN_PREFIXES if secret.startswith(p)), "")
    tail = secret[-4:] if len(secret) > len(prefix) + 8 else ""
    return f"{prefix}…{tail}"


def _new_token(prefix: str) -> str:
    body = secrets.token_urlsafe(72).replace("=", "")
    return (prefix + "sim-" + body)[:106] + "AA"


@dataclass
class Credential:
    """One registered secret, known by fingerprint only."""

    kind: str  # "api_key" | "setup_token" | "oauth"
    fingerprint: str
    masked: str
    organization: str
    workspace: str
    expires_at: float | None = None
    revoked: bool = False
    login_id: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as."""

    kind: str
    fingerprint: str
    masked: str
    organization: str
    workspace: str

    @property
    def scope(self) -> tuple[str, str]:
        """What a prompt cache is isolated by: organisation and workspace (reference §3.1)."""
        return (self.organization, self.workspace)


@dataclass
class OAuthLogin:
    """An OAuth login as a client holds it: the raw tokens and the access token's expiry.

    `expires_at` is in unix seconds of the simulator's virtual clock.
    """

    access_token: str
    refresh_token: str
    expires_at: float
    organization: str
    workspace: str
    login_id: str = ""

    def __repr__(self) -> str:
        return (
            f"OAuthLogin(access_token={mask_secret(self.access_token)!r}, "
            f"refresh_token={mask_secret(self.refresh_token)!r}, expires_at={self.expires_at!r}, "
            f"workspace={self.workspace!r})"
        )


@dataclass
class _RefreshRecord:
    login_id: str
    expires_at: float | None
    used: bool = False
    revoked: bool = False


@dataclass
class _Login:
    login_id: str
    organization: str
    workspace: str
    access_expires_in: float
    access_fingerprints: list[str] = field(default_factory=list)
    refresh_fingerprints: list[str] = field(default_factory=list)
    revoked: bool = False


class RefreshError(Exception):
    """A failed refresh_token grant, as an OAuth 2 error (RFC 6749 §5.2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class CredentialStore:
    """The simulator's accounts; thread-safe, so concurrent refreshes race correctly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_fingerprint: dict[str, Credential] = {}
        self._refresh: dict[str, _RefreshRecord] = {}
        self._logins: dict[str, _Login] = {}

    # -- registration -------------------------------------------------------------------------

    def _register(self, secret: str, credential: Credential) -> None:
        if not isinstance(secret, str) or not secret:
            raise UsageError("A simulator credential must be a non-empty string.")
        with self._lock:
            self._by_fingerprint[credential.fingerprint] = credential

    def add_api_key(
        self,
        key: str | None = None,
        *,
        workspace: str = DEMO_WORKSPACE_ID,
        organization: str = DEMO_ORGANIZATION_ID,
    ) -> str:
        key = key or _new_token("sk-ant-api03-")
        fp = fingerprint(key)
        self._register(key, Credential("api_key", fp, mask_secret(key), organization, workspace))
        return key

    def add_setup_token(
        self,
        token: str | None = None,
        *,
        workspace: str = DEMO_WORKSPACE_ID,
        organization: str = DEMO_ORGANIZATION_ID,
        expires_at: float | None = None,
    ) -> str:
        token = token or _new_token("sk-ant-oat01-")
        fp = fingerprint(token)
        credential = Credential("setup_token", fp, mask_secret(token), organization, workspace, expires_at)
        self._register(token, credential)
        return token

    def add_oauth_login(
        self,
        *,
        now: float,
        access_token: str | None = None,
        refresh_token: str | None = None,
        expires_in: float = 8 * 3600,
        expires_at: float | None = None,
        refresh_expires_in: float | None = None,
        workspace: str = DEMO_WORKSPACE_ID,
        organization: str = DEMO_ORGANIZATION_ID,
    ) -> OAuthLogin:
        access_token = access_token or _new_token("sk-ant-oat01-")
        refresh_token = refresh_token or _new_token("sk-ant-ort01-")
        access_expiry = float(expires_at) if expires_at is not None else now + expires_in
        login_id = "login_" + secrets.token_hex(8)
        login = _Login(login_id, organization, workspace, float(expires_in))
        access_fp = fingerprint(access_token)
        refresh_fp = fingerprint(refresh_token)
        login.access_fingerprints.append(access_fp)
        login.refresh_fingerprints.append(refresh_fp)
        refresh_expiry = now + refresh_expires_in if refresh_expires_in is not None else None
        with self._lock:
            self._logins[login_id] = login
            self._by_fingerprint[access_fp] = Credential(
                "oauth",
                access_fp,
                mask_secret(access_token),
                organization,
                workspace,
                access_expiry,
                login_id=login_id,
            )
            self._refresh[refresh_fp] = _RefreshRecord(login_id, refresh_expiry)
        return OAuthLogin(access_token, refresh_token, access_expiry, organization, workspace, login_id)

    def revoke(self, secret: str) -> bool:
        """Revoke a key or token; for OAuth, the whole login (every access and refresh token)."""
        fp = fingerprint(secret)
        with self._lock:
            credential = self._by_fingerprint.get(fp)
            login_id = credential.login_id if credential else None
            if fp in self._refresh:
                login_id = self._refresh[fp].login_id
            if login_id is not None:
                login = self._logins[login_id]
                login.revoked = True
                for access_fp in login.access_fingerprints:
                    self._by_fingerprint[access_fp].revoked = True
                for refresh_fp in login.refresh_fingerprints:
                    self._refresh[refresh_fp].revoked = True
                return True
            if credential is not None:
                credential.revoked = True
                return True
        return False

    def expire(self, secret: str, *, now: float) -> bool:
        """Make an access or setup token expire now (e.g. to test the expired-token 401)."""
        with self._lock:
            credential = self._by_fingerprint.get(fingerprint(secret))
            if credential is None or credential.kind == "api_key":
                return False
            credential.expires_at = now
            return True

    def get(self, secret: str) -> Credential | None:
        with self._lock:
            return self._by_fingerprint.get(fingerprint(secret))

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_fingerprint)

    # -- authentication -----------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str], *, now: float) -> Principal:
        """The principal of a request, or the real API's 401.

        `headers` has lower-case names. `x-api-key` wins over `Authorization` when both are sent.
        """
        secret = headers.get("x-api-key")
        via_bearer = False
        if not secret:
            authorization = headers.get("authorization", "")
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                secret = value.strip()
                via_bearer = True
        if not secret:
            raise ApiError(401, MSG_NO_CREDENTIAL)
        invalid = MSG_INVALID_BEARER if via_bearer else MSG_INVALID_KEY
        is_oauth_shape = secret.startswith(_OAUTH_PREFIX)
        if is_oauth_shape:
            betas = {b.strip() for b in headers.get("anthropic-beta", "").split(",")}
            if not via_bearer or OAUTH_BETA not in betas:
                raise ApiError(401, MSG_OAUTH_UNSUPPORTED)
        fp = fingerprint(secret)
        with self._lock:
            credential = self._by_fingerprint.get(fp)
            if credential is None:
                raise ApiError(401, invalid)
            if credential.kind != "api_key" and not is_oauth_shape:
                # An OAuth-kind credential registered under an unusual string still needs the beta.
                betas = {b.strip() for b in headers.get("anthropic-beta", "").split(",")}
                if not via_bearer or OAUTH_BETA not in betas:
                    raise ApiError(401, MSG_OAUTH_UNSUPPORTED)
            if credential.revoked:
                raise ApiError(401, MSG_OAUTH_REVOKED if credential.kind != "api_key" else invalid)
            if credential.expires_at is not None and now >= credential.expires_at:
                raise ApiError(401, MSG_OAUTH_EXPIRED)
            return Principal(
                credential.kind,
                credential.fingerprint,
                credential.masked,
                credential.organization,
                credential.workspace,
            )

    # -- OAuth refresh ------------------------------------------------------------------------

    def refresh(self, refresh_token: str, *, now: float, expires_in: float | None = None) -> OAuthLogin:
        """Rotate a refresh token: a new access + refresh token; the old refresh token dies.

        Atomic, so of several concurrent refreshes with one token exactly one succeeds.
        """
        fp = fingerprint(refresh_token)
        with self._lock:
            record = self._refresh.get(fp)
            if record is None or record.used or record.revoked:
                raise RefreshError(400, "invalid_grant", "Refresh token not found or invalid")
            if record.expires_at is not None and now >= record.expires_at:
                raise RefreshError(400, "invalid_grant", "Refresh token expired")
            login = self._logins[record.login_id]
            record.used = True
            lifetime = login.access_expires_in if expires_in is None else float(expires_in)
            access_token = _new_token("sk-ant-oat01-")
            new_refresh = _new_token("sk-ant-ort01-")
            access_fp = fingerprint(access_token)
            refresh_fp = fingerprint(new_refresh)
            self._by_fingerprint[access_fp] = Credential(
                "oauth",
                access_fp,
                mask_secret(access_token),
                login.organization,
                login.workspace,
                now + lifetime,
                login_id=login.login_id,
            )
            # A rotated refresh token keeps the original's absolute lifetime, if it had one.
            self._refresh[refresh_fp] = _RefreshRecord(login.login_id, record.expires_at)
            login.access_fingerprints.append(access_fp)
            login.refresh_fingerprints.append(refresh_fp)
            return OAuthLogin(
                access_token, new_refresh, now + lifetime, login.organization, login.workspace, login.login_id
            )


def _require_str(entry: Any, key: str, path: Path) -> str:
    value = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(value, str) or not value:
        raise ParseError(
            f"every entry needs a non-empty string {key!r}.",
            path=path,
            fix="see clawdbot_nb.sim.credentials.load_credentials_file for the format",
        )
    return value


def load_credentials_file(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Read a credentials JSON file for `sim serve --credentials`.

    Format (every list optional; `workspace` and `organization` optional in every entry)::

        {"api_keys": ["sk-ant-api03-...", {"key": "sk-ant-api03-...", "workspace": "wrk_a"}],
         "setup_tokens": [{"token": "sk-ant-oat01-...", "expires_at": 1893456000}],
         "oauth": [{"access_token": "sk-ant-oat01-...", "refresh_token": "sk-ant-ort01-...",
                    "expires_in": 28800}]}

    Returns the normalised entries; `Simulator.load_credentials` registers them.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"cannot read simulator credentials file {path}: {error.strerror or error}.",
            fix="pass an existing JSON file to --credentials",
        ) from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(
            f"not valid JSON: {error.msg}.",
            path=path,
            line=error.lineno,
            column=error.colno,
            fix="correct the JSON syntax at that position",
        ) from error
    if not isinstance(data, dict):
        raise ParseError("the top level must be a JSON object.", path=path, fix='use {"api_keys": [...]}')
    result: dict[str, list[dict[str, Any]]] = {"api_keys": [], "setup_tokens": [], "oauth": []}
    scope_keys = ("workspace", "organization")
    for entry in data.get("api_keys", []) or []:
        if isinstance(entry, str):
            entry = {"key": entry}
        key = _require_str(entry, "key", path)
        result["api_keys"].append({"key": key, **{k: entry[k] for k in scope_keys if k in entry}})
    for entry in data.get("setup_tokens", []) or []:
        if isinstance(entry, str):
            entry = {"token": entry}
        token = _require_str(entry, "token", path)
        extra = {k: entry[k] for k in (*scope_keys, "expires_at") if k in entry}
        result["setup_tokens"].append({"token": token, **extra})
    for entry in data.get("oauth", []) or []:
        access = _require_str(entry, "access_token", path)
        refresh = _require_str(entry, "refresh_token", path)
        extra = {k: entry[k] for k in (*scope_keys, "expires_at", "expires_in") if k in entry}
        result["oauth"].append({"access_token": access, "refresh_token": refresh, **extra})
    return result
