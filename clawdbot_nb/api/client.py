"""An official `anthropic` client for one credential, with Clawdbot's wire conventions.

API keys go out as the SDK sends them. Setup-tokens and OAuth logins (any secret containing
`sk-ant-oat`, the test pi-ai uses) go out as Bearer tokens with Claude Code's beta headers,
and their requests start with the Claude Code identity system block. An OAuth profile is an
`AccessTokenProvider`, so the SDK's token cache drives refresh and a 401 forces one.

While the failover loop has another profile to try, it sends through a variant of the client
with the failover middleware, which tells the SDK not to sleep and retry a rate-limited or
failing request on this profile; the last profile gets the SDK's normal retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clawdbot_nb.api.oauth import OAuthRefresher, ProfileTokenProvider
from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state.credentials import Credential, OAuthCredential, looks_like_oauth_token

#: pi-ai's betas for OAuth and setup-token requests (Clawdbot's wire format).
OAUTH_BETAS = (
    "claude-code-20250219",
    "oauth-2025-04-20",
    "fine-grained-tool-streaming-2025-05-14",
    "interleaved-thinking-2025-05-14",
)
CLAUDE_CODE_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
CLAUDE_CODE_USER_AGENT = "claude-cli/2.1.75 (external, cli)"


class ConnectionFailed(ClawdbotError):
    """A connection error or timeout that failover handles instead of the SDK's retry loop."""

    def __init__(self, original: BaseException) -> None:
        timed_out = "Timeout" in type(original).__name__
        super().__init__(
            f"{'Request timed out' if timed_out else 'Connection error'}: {type(original).__name__}",
            fix="check the network or ANTHROPIC_BASE_URL; the next profile is tried meanwhile",
        )
        self.timed_out = timed_out
        self.original = original


def _mark_no_retry(response: Any) -> None:
    # 401 stays retryable: for an OAuth profile the SDK refreshes the token and retries once.
    if response.status_code != 401 and (
        response.status_code in (408, 409, 429) or response.status_code >= 500
    ):
        response.http_response.headers["x-should-retry"] = "false"


def _connection_error(error: BaseException) -> bool:
    import anthropic

    return isinstance(error, anthropic.APIConnectionError)


def failover_middleware(request: Any, call_next: Callable[[Any], Any]) -> Any:
    """Sync client middleware (anthropic SDK 2.x): no SDK retries, failover moves on instead."""
    try:
        response = call_next(request)
    except Exception as error:
        if _connection_error(error):
            raise ConnectionFailed(error) from None  # not retryable: failover moves on
        raise
    _mark_no_retry(response)
    return response


async def async_failover_middleware(request: Any, call_next: Callable[[Any], Any]) -> Any:
    """The async twin of `failover_middleware`."""
    try:
        response = await call_next(request)
    except Exception as error:
        if _connection_error(error):
            raise ConnectionFailed(error) from None
        raise
    _mark_no_retry(response)
    return response


@dataclass(frozen=True)
class ClientOptions:
    """How clients reach the API (shared by every credential of a workspace)."""

    base_url: str | None = None
    max_retries: int = 2
    timeout: float | None = None
    http_client: Any = None  # an httpx2.Client, e.g. over the simulator's in-process transport
    async_http_client: Any = None


def uses_oauth_wire(credential: Credential) -> bool:
    """Bearer + Claude Code betas for OAuth logins and anything shaped like an `sk-ant-oat` token."""
    return isinstance(credential, OAuthCredential) or looks_like_oauth_token(credential.secret)


def _oauth_headers() -> dict[str, str]:
    return {
        "anthropic-beta": ",".join(OAUTH_BETAS),
        "user-agent": CLAUDE_CODE_USER_AGENT,
        "x-app": "cli",
        "anthropic-dangerous-direct-browser-access": "true",
    }


def build_client(
    credential: Credential,
    options: ClientOptions,
    *,
    profile_id: str | None = None,
    refresher: OAuthRefresher | None = None,
    asynchronous: bool = False,
) -> Any:
    """An `anthropic.Anthropic` (or `AsyncAnthropic`) that authenticates with `credential`."""
    import anthropic

    cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
    kwargs: dict[str, Any] = {"max_retries": options.max_retries}
    if options.base_url:
        kwargs["base_url"] = options.base_url
    if options.timeout is not None:
        kwargs["timeout"] = options.timeout
    http_client = options.async_http_client if asynchronous else options.http_client
    if http_client is not None:
        kwargs["http_client"] = http_client
    if isinstance(credential, OAuthCredential):
        if refresher is None or profile_id is None:
            raise ValueError("an OAuth profile needs its profile id and the workspace's refresher")
        kwargs["credentials"] = ProfileTokenProvider(refresher, profile_id)
        kwargs["default_headers"] = _oauth_headers()
    elif looks_like_oauth_token(credential.secret):
        kwargs["auth_token"] = credential.secret
        kwargs["default_headers"] = _oauth_headers()
    else:
        kwargs["api_key"] = credential.secret
    return cls(**kwargs)


def fail_fast_variant(client: Any, asynchronous: bool) -> Any:
    """The same client (same token cache) with the failover middleware added."""
    return client.with_middleware(async_failover_middleware if asynchronous else failover_middleware)


def with_identity(system: Any) -> list[dict[str, Any]]:
    """The system prompt as blocks, with Claude Code's identity block first (OAuth wire only)."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": CLAUDE_CODE_IDENTITY}]
    if isinstance(system, str) and system:
        blocks.append({"type": "text", "text": system})
    elif isinstance(system, list):
        blocks.extend(
            b for b in system if not (isinstance(b, dict) and b.get("text") == CLAUDE_CODE_IDENTITY)
        )
    return blocks
