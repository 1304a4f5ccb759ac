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
- An HTTP request hook on the shared connection pool stamps the start of every attempt, so the
  successful exchange is timed apart from setup and failed attempts. (SDK middleware would do
  it too, but puts every request on the SDK's slower middleware path: ~0.35 ms a call.)
- While the call engine has another profile to fail over to, an attempt goes through the
  client's fail-fast variant: no SDK retries (`max_retries=0`), so the SDK never sleeps on a
  profile we can leave. An OAuth profile's variant keeps one retry for the SDK's forced refresh
  after a 401, and marks everything else not retryable with a middleware.
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
    """The start of every HTTP attempt of one call (perf_counter), stamped by the pool's hook,
    and the headers of the latest response (for the rate limits it reports).

    `on_response`, when set, is called with each response's headers as they arrive: the moment
    a response begins, when its cache writes become visible to other requests (the cache watch
    also reads the organisation and workspace the response names).
    """

    sends: list[float] = field(default_factory=list)
    on_response: Callable[[Any], None] | None = None
    headers: Any = None


_attempt: ContextVar[AttemptClock | None] = ContextVar("clawdbot_nb_attempt", default=None)


@contextmanager
def attempt(clock: AttemptClock) -> Iterator[AttemptClock]:
    """Requests sent inside (on this thread or task) are stamped on `clock`."""
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


def _stamp_send(request: Any) -> None:
    clock = _attempt.get()
    if clock is not None:
        clock.sends.append(time.perf_counter())


async def _astamp_send(request: Any) -> None:
    _stamp_send(request)


def _note_response(response: Any) -> None:
    clock = _attempt.get()
    if clock is not None:
        clock.headers = response.headers
        if clock.on_response is not None:
            clock.on_response(response.headers)


async def _anote_response(response: Any) -> None:
    _note_response(response)


def _add_send_hook(http_client: Any, hook: Callable[[Any], Any], on_response: Callable[[Any], Any]) -> Any:
    hooks = http_client.event_hooks
    if hook not in hooks["request"]:
        http_client.event_hooks = {
            **hooks,
            "request": [*hooks["request"], hook],
            "response": [*hooks["response"], on_response],
        }
    return http_client


def oauth_fail_fast_middleware(request: Any, call_next: Callable[[Any], Any]) -> Any:
    """Sync: connection errors and retryable statuses go back to the engine, not the SDK's loop."""
    try:
        response = call_next(request)
    except Exception as error:
        if _connection_error(error):
            raise ConnectionFailed(error) from None  # not retryable: failover moves on
        raise
    _mark_no_retry(response)
    return response


async def async_oauth_fail_fast_middleware(request: Any, call_next: Callable[[Any], Any]) -> Any:
    try:
        response = await call_next(request)
    except Exception as error:
        if _connection_error(error):
            raise ConnectionFailed(error) from None
        raise
    _mark_no_retry(response)
    return response


def fail_fast_variant(client: Any, credential: Credential, asynchronous: bool) -> Any:
    """The client for an attempt another profile can take over from: the SDK does not retry."""
    if isinstance(credential, OAuthCredential):
        middleware = async_oauth_fail_fast_middleware if asynchronous else oauth_fail_fast_middleware
        return client.with_middleware(middleware)
    return client.with_options(max_retries=0)


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
    kwargs: dict[str, Any] = {"max_retries": options.max_retries, "http_client": http_client}
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


class _Clients:
    """SDK clients that share one HTTP connection pool: per credential, the client and its
    fail-fast variant."""

    def __init__(self, http_client: Any, owned: bool, asynchronous: bool) -> None:
        stamp, note = (_astamp_send, _anote_response) if asynchronous else (_stamp_send, _note_response)
        self.http_client = _add_send_hook(http_client, stamp, note)
        self.owned = owned
        self.asynchronous = asynchronous
        self.clients: dict[tuple[str, str, bool], Any] = {}
        self.closer: Any = None  # async: the async generator that closes them at loop shutdown

    def get(self, candidate: AuthCandidate, fail_fast: bool, options: ClientOptions, refresher: Any) -> Any:
        key = (*credential_key(candidate), fail_fast)
        client = self.clients.get(key)
        if client is None:
            if fail_fast:
                base = self.get(candidate, False, options, refresher)
                client = fail_fast_variant(base, candidate.credential, self.asynchronous)
            else:
                client = build_client(
                    candidate.credential,
                    options,
                    http_client=self.http_client,
                    profile_id=candidate.profile_id,
                    refresher=refresher,
                    asynchronous=self.asynchronous,
                )
            self.clients[key] = client
        return client

    def close(self) -> None:
        self.clients = {}  # they share the HTTP pool: closing it closes them all
        if self.owned and not self.http_client.is_closed:
            self.http_client.close()

    async def aclose(self) -> None:
        self.clients = {}
        if self.owned and not self.http_client.is_closed:
            await self.http_client.aclose()


class ClientPool:
    """The workspace's SDK clients: one per profile (sync), one per profile and event loop (async)."""

    def __init__(self, options: ClientOptions, refresher: OAuthRefresher) -> None:
        self.options = options
        self.refresher = refresher
        self._lock = threading.Lock()
        self._sync: _Clients | None = None
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clients] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        count = len(self._sync.clients) if self._sync else 0
        return f"ClientPool(sync={count}, loops={len(self._loops)})"

    def _http_kwargs(self) -> dict[str, Any]:
        return {"transport": self.options.transport} if self.options.transport is not None else {}

    def _sync_clients(self) -> _Clients:
        if self._sync is None:
            import anthropic

            if self.options.http_client is not None:
                self._sync = _Clients(self.options.http_client, owned=False, asynchronous=False)
            else:
                http = anthropic.DefaultHttpxClient(**self._http_kwargs())
                self._sync = _Clients(http, owned=True, asynchronous=False)
        return self._sync

    def get(self, candidate: AuthCandidate, fail_fast: bool = False) -> Any:
        """The sync client for `candidate` (built on first use); `fail_fast` for an attempt another
        profile can take over from."""
        with self._lock:  # threads (e.g. a map over rows) share the pool
            return self._sync_clients().get(candidate, fail_fast, self.options, self.refresher)

    async def aget(self, candidate: AuthCandidate, fail_fast: bool = False) -> Any:
        """The async client for `candidate` on the running event loop (built on first use)."""
        loop = asyncio.get_running_loop()
        clients = self._loops.get(loop)
        if clients is None:
            clients = await self._open_loop(loop)
        return clients.get(candidate, fail_fast, self.options, self.refresher)

    async def _open_loop(self, loop: asyncio.AbstractEventLoop) -> _Clients:
        import anthropic

        if self.options.async_http_client is not None:
            clients = _Clients(self.options.async_http_client, owned=False, asynchronous=True)
        else:
            http = anthropic.DefaultAsyncHttpxClient(**self._http_kwargs())
            clients = _Clients(http, owned=True, asynchronous=True)
        self._loops[loop] = clients
        # `asyncio.run` (and any runner that calls `loop.shutdown_asyncgens()`) closes the async
        # generators still open on its loop before closing it: this one closes the loop's clients.
        clients.closer = _close_at_loop_shutdown(clients)
        await clients.closer.__anext__()
        return clients

    def close(self) -> None:
        """Close every client this pool built (and the HTTP pools it owns)."""
        with self._lock:
            sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()
        for loop, clients in list(self._loops.items()):
            self._loops.pop(loop, None)
            _close_on_its_loop(loop, clients)


async def _close_at_loop_shutdown(clients: _Clients) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await clients.aclose()


def _close_on_its_loop(loop: asyncio.AbstractEventLoop, entry: _Clients) -> None:
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
