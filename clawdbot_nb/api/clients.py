"""Official `anthropic` clients for the workspace's profiles, with Clawdbot's wire conventions,
pooled and closed with the workspace.

- API keys go out as the SDK sends them. Setup-tokens and OAuth logins (any secret containing
  `sk-ant-oat`, the test pi-ai uses) go out as Bearer tokens with Claude Code's beta headers,
  and their requests start with the Claude Code identity system block. An OAuth profile is an
  `AccessTokenProvider`, so the SDK's token cache drives refresh and a 401 forces one.
- The pool keys clients by profile id and a fingerprint of the secret (never the secret), so a
  re-onboarded profile gets a new client. Sync clients share one HTTP connection pool; async
  clients and their pool belong to one event loop each, and are closed when that loop shuts
  down (`asyncio.run` finalises async generators; the pool parks one there) or with the pool.
- Every client carries one middleware that times each HTTP attempt and, while the call engine
  has another profile to fail over to, tells the SDK not to sleep and retry on this one.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from clawdbot_nb.api.oauth import OAuthRefresher, ProfileTokenProvider
from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state.credentials import Credential, OAuthCredential
from clawdbot_nb.state.redaction import looks_like_oauth_token
from clawdbot_nb.state.selection import AuthCandidate

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


# -- one HTTP attempt: timing and fail-fast --------------------------------------------------------


@dataclass
class AttemptClock:
    """What the middleware saw of one call: the start of every HTTP attempt (perf_counter)."""

    fail_fast: bool = False
    sends: list[float] = field(default_factory=list)


_attempt: ContextVar[AttemptClock | None] = ContextVar("clawdbot_nb_attempt", default=None)


@contextmanager
def attempt(clock: AttemptClock) -> Iterator[AttemptClock]:
    """Requests sent inside are timed on `clock` and fail fast when `clock.fail_fast`."""
    token = _attempt.set(clock)
    try:
        yield clock
    finally:
        _attempt.reset(token)


def _mark_no_retry(response: Any) -> None:
    # 401 stays retryable: for an OAuth profile the SDK refreshes the token and retries once.
    status = response.status_code
    if status != 401 and (status in (408, 409, 429) or status >= 500):
        response.http_response.headers["x-should-retry"] = "false"


def _connection_error(error: BaseException) -> bool:
    import anthropic

    return isinstance(error, anthropic.APIConnectionError)


def attempt_middleware(request: Any, call_next: Callable[[Any], Any]) -> Any:
    clock = _attempt.get()
    if clock is None:
        return call_next(request)
    clock.sends.append(time.perf_counter())
    try:
        response = call_next(request)
    except Exception as error:
        if clock.fail_fast and _connection_error(error):
            raise ConnectionFailed(error) from None  # not retryable: failover moves on
        raise
    if clock.fail_fast:
        _mark_no_retry(response)
    return response


async def async_attempt_middleware(request: Any, call_next: Callable[[Any], Any]) -> Any:
    clock = _attempt.get()
    if clock is None:
        return await call_next(request)
    clock.sends.append(time.perf_counter())
    try:
        response = await call_next(request)
    except Exception as error:
        if clock.fail_fast and _connection_error(error):
            raise ConnectionFailed(error) from None
        raise
    if clock.fail_fast:
        _mark_no_retry(response)
    return response


# -- building one client ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientOptions:
    """How clients reach the API (shared by every credential of a workspace)."""

    base_url: str | None = None
    max_retries: int = 2
    timeout: float | None = None
    transport: Any = None  # an httpx2 transport, e.g. the simulator's in-process one
    http_client: Any = None  # a caller's httpx2.Client (not closed by the pool)
    async_http_client: Any = None  # a caller's httpx2.AsyncClient (not closed by the pool)


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
    http_client: Any,
    profile_id: str | None = None,
    refresher: OAuthRefresher | None = None,
    asynchronous: bool = False,
) -> Any:
    """An `anthropic.Anthropic` (or `AsyncAnthropic`) that authenticates with `credential`."""
    import anthropic

    cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
    kwargs: dict[str, Any] = {
        "max_retries": options.max_retries,
        "http_client": http_client,
        "middleware": [async_attempt_middleware if asynchronous else attempt_middleware],
    }
    if options.base_url:
        kwargs["base_url"] = options.base_url
    if options.timeout is not None:
        kwargs["timeout"] = options.timeout
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


def credential_key(candidate: AuthCandidate) -> tuple[str, str]:
    """A pool key for a candidate: its label and a fingerprint of its secret (never the secret).

    An OAuth profile's client follows the store through its token provider, so its key does
    not change when the token is refreshed."""
    credential = candidate.credential
    if isinstance(credential, OAuthCredential):
        return candidate.label, "oauth"
    digest = hashlib.sha256(credential.secret.encode()).hexdigest()[:16]
    return candidate.label, f"{credential.type}:{digest}"


# -- the pool --------------------------------------------------------------------------------------


class _LoopClients:
    """The async clients of one event loop, and the HTTP pool they share."""

    def __init__(self, http_client: Any, owned: bool) -> None:
        self.http_client = http_client
        self.owned = owned
        self.clients: dict[tuple[str, str], Any] = {}
        self.closer: Any = None  # the async generator that closes them at loop shutdown

    async def aclose(self) -> None:
        clients, self.clients = self.clients, {}
        del clients  # SDK clients share the HTTP pool: closing it closes them all
        if self.owned and not self.http_client.is_closed:
            await self.http_client.aclose()


class ClientPool:
    """The workspace's SDK clients: one per profile (sync), one per profile and event loop (async)."""

    def __init__(self, options: ClientOptions, refresher: OAuthRefresher) -> None:
        self.options = options
        self.refresher = refresher
        self._lock = threading.Lock()
        self._sync: dict[tuple[str, str], Any] = {}
        self._sync_http: Any = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
            weakref.WeakKeyDictionary()
        )
        self.closed = False

    def __repr__(self) -> str:
        return f"ClientPool(sync={len(self._sync)}, loops={len(self._loops)})"

    def _sync_http_client(self) -> Any:
        if self._sync_http is None:
            if self.options.http_client is not None:
                self._sync_http = self.options.http_client
            else:
                import anthropic

                kwargs = {"transport": self.options.transport} if self.options.transport is not None else {}
                self._sync_http = anthropic.DefaultHttpxClient(**kwargs)
        return self._sync_http

    def get(self, candidate: AuthCandidate) -> Any:
        """The sync client for `candidate` (built on first use)."""
        key = credential_key(candidate)
        client = self._sync.get(key)
        if client is None:
            with self._lock:
                client = self._sync.get(key)
                if client is None:
                    client = build_client(
                        candidate.credential,
                        self.options,
                        http_client=self._sync_http_client(),
                        profile_id=candidate.profile_id,
                        refresher=self.refresher,
                    )
                    self._sync[key] = client
        return client

    async def aget(self, candidate: AuthCandidate) -> Any:
        """The async client for `candidate` on the running event loop (built on first use)."""
        loop = asyncio.get_running_loop()
        entry = self._loops.get(loop)
        if entry is None:
            entry = await self._open_loop(loop)
        key = credential_key(candidate)
        client = entry.clients.get(key)
        if client is None:
            client = entry.clients[key] = build_client(
                candidate.credential,
                self.options,
                http_client=entry.http_client,
                profile_id=candidate.profile_id,
                refresher=self.refresher,
                asynchronous=True,
            )
        return client

    async def _open_loop(self, loop: asyncio.AbstractEventLoop) -> _LoopClients:
        import anthropic

        if self.options.async_http_client is not None:
            entry = _LoopClients(self.options.async_http_client, owned=False)
        else:
            kwargs = {"transport": self.options.transport} if self.options.transport is not None else {}
            entry = _LoopClients(anthropic.DefaultAsyncHttpxClient(**kwargs), owned=True)
        self._loops[loop] = entry
        # `asyncio.run` (and any runner that calls `loop.shutdown_asyncgens()`) closes the async
        # generators still open on its loop before closing it: this one closes the loop's clients.
        entry.closer = _close_at_loop_shutdown(entry)
        await entry.closer.__anext__()
        return entry

    def close(self) -> None:
        """Close every client this pool built (and the HTTP pools it owns)."""
        self.closed = True
        with self._lock:
            sync, self._sync = self._sync, {}
            http, self._sync_http = self._sync_http, None
        del sync
        if http is not None and http is not self.options.http_client:
            http.close()
        for loop, entry in list(self._loops.items()):
            self._loops.pop(loop, None)
            _close_on_its_loop(loop, entry)


async def _close_at_loop_shutdown(entry: _LoopClients) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await entry.aclose()


def _close_on_its_loop(loop: asyncio.AbstractEventLoop, entry: _LoopClients) -> None:
    """Close a loop's clients from sync code: on the loop, however it is doing."""
    if loop.is_closed():
        return  # its shutdown already ran the closer
    if loop.is_running():
        # Called from inside the loop (a notebook cell) or from another thread.
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(entry.aclose())
        else:
            asyncio.run_coroutine_threadsafe(entry.aclose(), loop).result(timeout=10)
        return
    loop.run_until_complete(entry.aclose())
