"""The three credential types of an auth profile (`api_key`, `token`, `oauth`): parsing from
the store, normalising pasted input, the setup-token rules, and masking.

Every credential's `str` and `repr` are masked (`state.redaction`): at most the known prefix and
the last 4 characters of a secret are ever shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from clawdbot_nb.errors import CredentialError, command
from clawdbot_nb.state.redaction import (  # noqa: F401  (re-exported: the credential vocabulary)
    API_KEY_MARKER,
    API_KEY_PREFIX,
    KNOWN_PREFIXES,
    OAUTH_TOKEN_MARKER,
    SETUP_TOKEN_PREFIX,
    looks_like_oauth_token,
    mask_secret,
)

SETUP_TOKEN_MIN_LENGTH = 80
#: Every Anthropic secret starts so; an API key shorter than this is a typo or a fragment.
ANTHROPIC_SECRET_PREFIX = "sk-ant-"
API_KEY_MIN_LENGTH = 40
_SECRET_BODY = re.compile(r"^[A-Za-z0-9_\-]+$")
CREDENTIAL_TYPES = ("api_key", "token", "oauth")


_EXPORT = re.compile(r"^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*")


def normalize_pasted_secret(raw: object) -> str:
    """Clean what people paste: `export ANTHROPIC_API_KEY="sk-…";`, quotes, spaces, line breaks."""
    if not isinstance(raw, str):
        return ""
    text = raw.strip()
    text = text.rstrip(";").strip()
    text = _EXPORT.sub("", text, count=1)
    text = text.rstrip(";").strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    # A token wrapped by a terminal arrives with line breaks or spaces inside it.
    return "".join(text.split())


def validate_setup_token(raw: object) -> str:
    """Clawdbot's `validateAnthropicSetupToken`, first failing rule wins, exact messages.

    An API key pasted where a setup-token belongs gets its own explanation first.
    """
    token = normalize_pasted_secret(raw)
    if not token:
        raise CredentialError("Required", fix="paste the output of `claude setup-token`")
    if token.startswith(API_KEY_MARKER):
        raise CredentialError(
            "This is an Anthropic API key (sk-ant-api…), not a setup-token.",
            fix=(
                "store it as an API key instead: clawdbot-nb onboard --non-interactive "
                "--auth-choice apiKey (it reads ANTHROPIC_API_KEY), or choose 'Anthropic API key'"
            ),
        )
    if not token.startswith(SETUP_TOKEN_PREFIX):
        raise CredentialError(
            f"Expected token starting with {SETUP_TOKEN_PREFIX}",
            fix="run `claude setup-token` and paste the whole sk-ant-oat01-… line it prints",
        )
    if len(token) < SETUP_TOKEN_MIN_LENGTH:
        raise CredentialError(
            "Token looks too short; paste the full setup-token",
            fix="copy the complete token; terminals sometimes cut long lines",
        )
    return token


def validate_api_key(raw: object) -> str:
    """A pasted API key: `sk-ant-…` of a plausible length (real ones are 108 characters). A
    setup-token pasted here is refused with the right command, anything else with the shape
    expected (and none of what was pasted)."""
    key = normalize_pasted_secret(raw)
    if not key:
        raise CredentialError("Required", fix="paste an API key from the Anthropic Console (sk-ant-api03-…)")
    if looks_like_oauth_token(key):
        raise CredentialError(
            "This is a Claude setup-token or OAuth token (sk-ant-oat…), not an API key.",
            fix=(
                f"store it as a token instead: {command('models auth paste-token --provider anthropic')}, "
                "or choose 'Anthropic token (paste setup-token)'"
            ),
        )
    if (
        not key.startswith(ANTHROPIC_SECRET_PREFIX)
        or len(key) < API_KEY_MIN_LENGTH
        or not _SECRET_BODY.match(key)
    ):
        raise CredentialError(
            f"That is not an Anthropic API key: one starts with {API_KEY_PREFIX} and is about 108 "
            f"characters of letters, digits, '-' and '_' (this has {len(key)} characters"
            + (
                ""
                if key.startswith(ANTHROPIC_SECRET_PREFIX)
                else f", and does not start with {ANTHROPIC_SECRET_PREFIX}"
            )
            + ").",
            fix="copy the whole key from console.anthropic.com → API keys; nothing was saved",
        )
    return key


def validate_pasted_token(raw: object) -> str:
    """A token for `models auth paste-token`: a setup-token or an OAuth access token
    (`sk-ant-oat…`, which decides how requests are signed); an API key is sent to onboard."""
    token = normalize_pasted_secret(raw)
    if not token:
        raise CredentialError("Required", fix="paste the token (from `claude setup-token`)")
    if token.startswith(API_KEY_MARKER):
        validate_setup_token(token)  # raises the "this is an API key" explanation
    if not looks_like_oauth_token(token) or len(token) < API_KEY_MIN_LENGTH or not _SECRET_BODY.match(token):
        raise CredentialError(
            f"That is not an Anthropic token: a setup-token starts with {SETUP_TOKEN_PREFIX} and is at least "
            f"{SETUP_TOKEN_MIN_LENGTH} characters (this has {len(token)}).",
            fix="run `claude setup-token` and paste the whole sk-ant-oat01-… line; nothing was saved",
        )
    return token


def _optional_str(raw: Mapping[str, Any], name: str, problems: list[str]) -> str | None:
    value = raw.get(name)
    if value is None or isinstance(value, str):
        return value or None
    problems.append(f"{name} must be a string")
    return None


def _optional_ms(raw: Mapping[str, Any], name: str, problems: list[str]) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{name} must be a number (epoch milliseconds)")
        return None
    return int(value)


@dataclass(frozen=True, repr=False)
class Credential:
    """Base of the three types. `extra` keeps fields we do not interpret, so they survive."""

    type: ClassVar[str]
    _fields: ClassVar[tuple[str, ...]]

    provider: str
    email: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def secret(self) -> str:
        """The string sent to the API."""
        raise NotImplementedError

    @property
    def expires(self) -> int | None:
        return None

    @property
    def masked(self) -> str:
        return mask_secret(self.secret)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "provider": self.provider}
        for name in self._fields:
            value = getattr(self, name)
            if value is not None:
                data[_JSON_NAMES.get(name, name)] = value
        if self.email:
            data["email"] = self.email
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, secret={self.masked!r})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class ApiKeyCredential(Credential):
    type: ClassVar[str] = "api_key"
    _fields: ClassVar[tuple[str, ...]] = ("key",)
    key: str = ""

    @property
    def secret(self) -> str:
        return self.key


@dataclass(frozen=True, repr=False)
class TokenCredential(Credential):
    """A static bearer token (setup-token): never refreshed, optionally expiring."""

    type: ClassVar[str] = "token"
    _fields: ClassVar[tuple[str, ...]] = ("token", "expires_ms")
    token: str = ""
    expires_ms: int | None = None

    @property
    def secret(self) -> str:
        return self.token

    @property
    def expires(self) -> int | None:
        return self.expires_ms


@dataclass(frozen=True, repr=False)
class OAuthCredential(Credential):
    """A refreshable OAuth login: `access` until `expires`, then `refresh` mints a new pair."""

    type: ClassVar[str] = "oauth"
    _fields: ClassVar[tuple[str, ...]] = ("access", "refresh", "expires_ms")
    access: str = ""
    refresh: str = ""
    expires_ms: int | None = None

    @property
    def secret(self) -> str:
        return self.access

    @property
    def expires(self) -> int | None:
        return self.expires_ms

    def __repr__(self) -> str:
        return (
            f"OAuthCredential(provider={self.provider!r}, access={mask_secret(self.access)!r}, "
            f"refresh={mask_secret(self.refresh)!r}, expires={self.expires_ms!r})"
        )

    __str__ = __repr__


_JSON_NAMES = {"expires_ms": "expires"}
_KNOWN_KEYS = {
    "api_key": {"type", "provider", "key", "email"},
    "token": {"type", "provider", "token", "expires", "email"},
    "oauth": {"type", "provider", "access", "refresh", "expires", "email"},
}


@dataclass(frozen=True)
class ParsedProfile:
    """A store entry read leniently: the credential when usable, else why not."""

    credential: Credential | None
    problems: tuple[str, ...] = ()


def parse_credential(raw: object) -> ParsedProfile:
    """Read one `profiles[id]` entry by Clawdbot's coerce rules.

    Entries whose `type` is not one of the three or whose `provider` is empty are not
    credentials (the gateway drops them); the store still keeps them on disk.
    """
    if not isinstance(raw, Mapping):
        return ParsedProfile(None, ("entry must be a JSON object",))
    kind = raw.get("type")
    if kind not in CREDENTIAL_TYPES:
        return ParsedProfile(None, (f"unknown credential type {kind!r} (expected api_key, token or oauth)",))
    provider = raw.get("provider")
    if not isinstance(provider, str) or not provider.strip():
        return ParsedProfile(None, ("provider is missing",))
    problems: list[str] = []
    email = _optional_str(raw, "email", problems)
    extra = {k: v for k, v in raw.items() if k not in _KNOWN_KEYS[kind]}
    common = {"provider": provider.strip().lower(), "email": email, "extra": extra}
    if kind == "api_key":
        key = _optional_str(raw, "key", problems)
        credential: Credential = ApiKeyCredential(key=key or "", **common)
        if not key:
            problems.append("key is empty")
    elif kind == "token":
        token = _optional_str(raw, "token", problems)
        credential = TokenCredential(
            token=token or "", expires_ms=_optional_ms(raw, "expires", problems), **common
        )
        if not token:
            problems.append("token is empty")
    else:
        access = _optional_str(raw, "access", problems)
        refresh = _optional_str(raw, "refresh", problems)
        credential = OAuthCredential(
            access=access or "",
            refresh=refresh or "",
            expires_ms=_optional_ms(raw, "expires", problems),
            **common,
        )
        if not access and not refresh:
            problems.append("access and refresh are both empty")
        if "accessToken" in raw and not access:
            problems.append("uses 'accessToken'; Clawdbot's field names are access, refresh, expires")
    return ParsedProfile(credential, tuple(problems))


def has_secret(credential: Credential) -> bool:
    """Clawdbot's usability filter: a key, a token, or an OAuth access or refresh token."""
    if isinstance(credential, OAuthCredential):
        return bool(credential.access or credential.refresh)
    return bool(credential.secret)


def provider_of(profile_id: str) -> str:
    """`anthropic:default` → `anthropic`."""
    return profile_id.split(":", 1)[0].strip().lower()
