"""The simulator core: one HTTP-shaped request in, one response out, no transport involved.

`Simulator.handle(SimRequest)` routes, authenticates, injects faults, validates, runs the prompt
cache and builds the reply; both front-ends (the in-process httpx2 transport and the loopback
HTTP server) only move bytes. A response may carry a delay (latency model), a list of SSE chunks
and a `begin()` hook the front-end calls when the first byte goes out: that is when the
response's cache writes become visible to other requests (reference §3.3).
"""

from __future__ import annotations

import itertools
import json
import secrets
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawdbot_nb.sim import model_facts
from clawdbot_nb.sim.api_errors import ApiError, error_body, invalid_request
from clawdbot_nb.sim.batches import BatchStore
from clawdbot_nb.sim.cache import PromptCache
from clawdbot_nb.sim.clock import VirtualClock
from clawdbot_nb.sim.credentials import (
    CredentialStore,
    OAuthLogin,
    Principal,
    load_credentials_file,
)
from clawdbot_nb.sim.demo import (
    CLAUDE_CODE_CLIENT_ID,
    DEMO_API_KEY,
    DEMO_OAUTH_ACCESS_TOKEN,
    DEMO_OAUTH_EXPIRES_IN,
    DEMO_OAUTH_REFRESH_TOKEN,
    DEMO_ORGANIZATION_ID,
    DEMO_SETUP_TOKEN,
    DEMO_WORKSPACE_ID,
)
from clawdbot_nb.sim.diagnostics import DiagnosticsStore, diagnose, fingerprint_request
from clawdbot_nb.sim.faults import Fault, FaultInjector
from clawdbot_nb.sim.latency import LatencyModel
from clawdbot_nb.sim.model_facts import ModelFacts
from clawdbot_nb.sim.models import ModelRegistry
from clawdbot_nb.sim.oauth import describe_token_request, handle_token_request
from clawdbot_nb.sim.positions import request_positions, trailing_tokens
from clawdbot_nb.sim.prefix import build_plan
from clawdbot_nb.sim.ratelimits import RateLimits
from clawdbot_nb.sim.replies import generate_reply
from clawdbot_nb.sim.request_log import DEFAULT_LIMIT as DEFAULT_LOG_LIMIT
from clawdbot_nb.sim.request_log import RequestLog, RequestRecord
from clawdbot_nb.sim.streaming import Chunk, error_event, message_events
from clawdbot_nb.sim.usage import build_usage
from clawdbot_nb.sim.validation import (
    NEW_API_VERSION,
    check_api_version,
    parse_json_body,
    validate_messages_body,
)

if TYPE_CHECKING:
    from clawdbot_nb.sim.transport import SimTransport

__all__ = ["MAX_REQUEST_BYTES", "SimRequest", "SimResponse", "Simulator"]

#: The edge proxy's limit for Messages and count_tokens (reference §5.2).
MAX_REQUEST_BYTES = 32 * 1024 * 1024
_JSON = "application/json"


@dataclass
class SimRequest:
    """An HTTP request as the core sees it; header names lower-case."""

    method: str
    path: str
    # Kept out of repr: headers carry credentials, bodies can be megabytes.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: bytes = field(default=b"", repr=False)
    query: dict[str, str] = field(default_factory=dict)
    base_url: str = "http://127.0.0.1"
    #: The body size the client declared, when a front-end drained an oversized body unread.
    declared_size: int = 0


@dataclass
class SimResponse:
    """An HTTP response to send: a body, or SSE `chunks` (each with its own delay).

    Front-ends wait `delay`, call `begin()`, then send; for a stream they send chunks until
    `drop_after` of them have gone out, then cut the connection if `drop_after` is set.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: list[Chunk] | None = None
    delay: float = 0.0
    drop_after: int | None = None
    on_begin: Callable[[], None] | None = None

    @property
    def is_stream(self) -> bool:
        return self.chunks is not None

    def begin(self) -> None:
        """The first byte is going out: make this response's cache writes visible (idempotent)."""
        hook, self.on_begin = self.on_begin, None
        if hook is not None:
            hook()


class _Context:
    """What the log should say about the request being handled."""

    __slots__ = (
        "api_version",
        "batch_id",
        "error_message",
        "error_type",
        "fault",
        "grant_type",
        "message_id",
        "model",
        "principal",
        "refresh_fingerprint",
        "refresh_masked",
        "refresh_scope",
        "stream",
        "usage",
    )

    def __init__(self) -> None:
        self.principal: Principal | None = None
        self.model: str | None = None
        self.stream = False
        self.usage: dict | None = None
        self.fault: str | None = None
        self.message_id: str | None = None
        self.batch_id: str | None = None
        self.grant_type: str | None = None
        self.refresh_masked: str | None = None
        self.refresh_fingerprint: str | None = None
        self.refresh_scope: tuple[str | None, str | None] = (None, None)
        self.api_version: str | None = None
        self.error_type: str | None = None
        self.error_message: str | None = None


@dataclass
class _Run:
    message: dict
    reply: Any
    usage: dict
    pending: list


class Simulator:
    """A local Anthropic API: Messages (JSON and SSE), count_tokens, batches, models, OAuth.

    `demo=True` registers `DEMO_API_KEY`, `DEMO_SETUP_TOKEN` and a demo OAuth login
    (`self.demo_oauth`). `latency` is a `LatencyModel` or a scale factor for the default one
    (off when None). `min_cacheable` overrides the documented minimum per model (`model_facts`).
    `request_log_size` bounds `self.requests`, a ring of the newest records (None: unbounded).
    """

    def __init__(
        self,
        *,
        demo: bool = True,
        clock: VirtualClock | None = None,
        reply_tokens: int = 24,
        latency: LatencyModel | float | None = None,
        min_cacheable: Mapping[str, int] | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        batch_processing_seconds: float = 0.0,
        oauth_access_expires_in: float = 8 * 3600,
        oauth_client_ids: Iterable[str] = (CLAUDE_CODE_CLIENT_ID,),
        rate_limits: RateLimits | None = None,
        request_log_size: int | None = DEFAULT_LOG_LIMIT,
    ) -> None:
        self.clock = clock or VirtualClock()
        self.reply_tokens = reply_tokens
        if isinstance(latency, int | float) and not isinstance(latency, bool):
            latency = LatencyModel(scale=float(latency)) if latency > 0 else None
        self.latency: LatencyModel | None = latency
        self.max_request_bytes = max_request_bytes
        self.oauth_access_expires_in = oauth_access_expires_in
        self.oauth_client_ids = frozenset(oauth_client_ids)
        self.faults = FaultInjector()
        self.requests = RequestLog(request_log_size)
        self.models = ModelRegistry(dict(min_cacheable or {}))
        self.credentials = CredentialStore()
        self.rate_limits = rate_limits or RateLimits()
        self.batches = BatchStore(self._process_batch_request, processing_seconds=batch_processing_seconds)
        self._cache = PromptCache()
        self._diagnostics = DiagnosticsStore()
        instance = secrets.token_hex(3)
        # itertools.count is atomic under the GIL; a generator would raise when two server
        # threads advance it at once.
        self._instance = instance
        self._request_counter = itertools.count(1)
        self._message_counter = itertools.count(1)
        self.demo_oauth: OAuthLogin | None = None
        if demo:
            self.add_api_key(DEMO_API_KEY)
            self.add_setup_token(DEMO_SETUP_TOKEN)
            self.demo_oauth = self.add_oauth_login(
                access_token=DEMO_OAUTH_ACCESS_TOKEN,
                refresh_token=DEMO_OAUTH_REFRESH_TOKEN,
                expires_in=DEMO_OAUTH_EXPIRES_IN,
            )

    def _new_request_id(self) -> str:
        return f"req_011CSim{self._instance}{next(self._request_counter):010d}"

    def _new_message_id(self) -> str:
        return f"msg_01Sim{self._instance}{next(self._message_counter):012d}"

    def __repr__(self) -> str:
        credentials, requests = len(self.credentials), len(self.requests)
        return f"Simulator(credentials={credentials}, requests={requests}, clock={self.clock!r})"

    # -- accounts -----------------------------------------------------------------------------

    def add_api_key(
        self,
        key: str | None = None,
        *,
        workspace: str = DEMO_WORKSPACE_ID,
        organization: str = DEMO_ORGANIZATION_ID,
    ) -> str:
        """Accept an API key (generated when None); returns it."""
        return self.credentials.add_api_key(key, workspace=workspace, organization=organization)

    def add_setup_token(
        self,
        token: str | None = None,
        *,
        workspace: str = DEMO_WORKSPACE_ID,
        organization: str = DEMO_ORGANIZATION_ID,
        expires_in: float | None = 365 * 86400,
        expires_at: float | None = None,
    ) -> str:
        """Accept a `claude setup-token` (an OAuth access token without refresh; 1 year by default)."""
        if expires_at is None and expires_in is not None:
            expires_at = self.clock.now() + expires_in
        return self.credentials.add_setup_token(
            token, workspace=workspace, organization=organization, expires_at=expires_at
        )

    def add_oauth_login(
        self,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        expires_in: float | None = None,
        expires_at: float | None = None,
        refresh_expires_in: float | None = None,
        workspace: str = DEMO_WORKSPACE_ID,
        organization: str = DEMO_ORGANIZATION_ID,
    ) -> OAuthLogin:
        """Register an OAuth login; its access token expires on the virtual clock."""
        return self.credentials.add_oauth_login(
            now=self.clock.now(),
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=self.oauth_access_expires_in if expires_in is None else expires_in,
            expires_at=expires_at,
            refresh_expires_in=refresh_expires_in,
            workspace=workspace,
            organization=organization,
        )

    def revoke(self, secret: str) -> bool:
        """Revoke a key or token (an OAuth login entirely); later use gets 401."""
        return self.credentials.revoke(secret)

    def expire(self, secret: str) -> bool:
        """Make an OAuth access token or setup-token expire now."""
        return self.credentials.expire(secret, now=self.clock.now())

    def load_credentials(self, source: str | Path | Mapping[str, Any]) -> int:
        """Register the credentials of a JSON file (see `load_credentials_file`); returns how many."""
        entries = load_credentials_file(source) if isinstance(source, str | Path) else source
        count = 0
        for entry in entries.get("api_keys", []):
            self.add_api_key(
                entry["key"], **{k: entry[k] for k in ("workspace", "organization") if k in entry}
            )
            count += 1
        for entry in entries.get("setup_tokens", []):
            extra = {k: entry[k] for k in ("workspace", "organization", "expires_at") if k in entry}
            self.add_setup_token(entry["token"], **extra)
            count += 1
        for entry in entries.get("oauth", []):
            extra = {
                k: entry[k] for k in ("workspace", "organization", "expires_at", "expires_in") if k in entry
            }
            self.add_oauth_login(
                access_token=entry["access_token"], refresh_token=entry["refresh_token"], **extra
            )
            count += 1
        return count

    # -- models and cache ---------------------------------------------------------------------

    def set_min_cacheable(self, model: str, minimum: int) -> None:
        self.models.set_min_cacheable(model, minimum)

    def min_cacheable(self, model: str) -> int:
        return self.models.min_cacheable(model)

    def reset_cache(self) -> None:
        """Forget every prompt-cache entry (the real API has no such call; tests do)."""
        self._cache.clear()

    @property
    def cache_entries(self) -> int:
        """Unexpired prompt-cache entries across every workspace and model."""
        return self._cache.live_entries(self.clock.now())

    # -- front-ends ---------------------------------------------------------------------------

    def transport(self) -> SimTransport:
        """An httpx2 transport (sync and async) that serves requests in-process."""
        from clawdbot_nb.sim.transport import SimTransport

        return SimTransport(self)

    # -- request handling ---------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        """Serve one request; never raises (an internal failure becomes a 500 `api_error`)."""
        request_id = self._new_request_id()
        arrived = self.clock.now()
        context = _Context()
        try:
            response = self._route(request, request_id, context)
        except ApiError as error:
            response = self._error_response(error, request_id, context)
        except Exception:  # the server must keep serving whatever a request does
            traceback.print_exc()
            response = self._error_response(ApiError(500, "Internal server error"), request_id, context)
        self._log(request, response, request_id, arrived, context)
        return response

    def _log(
        self, request: SimRequest, response: SimResponse, request_id: str, arrived: float, context: _Context
    ) -> None:
        principal = context.principal
        if principal is not None:
            credential, fp, kind = principal.masked, principal.fingerprint, principal.kind
            organization, workspace = principal.organization, principal.workspace
        elif context.refresh_masked is not None:
            credential, fp, kind = context.refresh_masked, context.refresh_fingerprint, "refresh_token"
            organization, workspace = context.refresh_scope
        else:
            credential = fp = kind = organization = workspace = None
        self.requests.append(
            RequestRecord(
                request_id=request_id,
                time=arrived,
                method=request.method,
                path=request.path,
                status=response.status,
                stream=context.stream,
                credential=credential,
                credential_fingerprint=fp,
                credential_kind=kind,
                organization=organization,
                workspace=workspace,
                model=context.model,
                usage=context.usage,
                error_type=context.error_type,
                error_message=context.error_message,
                fault=context.fault,
                message_id=context.message_id,
                batch_id=context.batch_id,
                grant_type=context.grant_type,
                api_version=context.api_version,
            )
        )

    def _headers(
        self, request_id: str, principal: Principal | None, content_type: str = _JSON
    ) -> list[tuple[str, str]]:
        headers = [("content-type", content_type), ("request-id", request_id)]
        if principal is not None:
            headers.append(("anthropic-organization-id", principal.organization))
            headers.append(("anthropic-workspace-id", principal.workspace))
        return headers

    def _error_response(self, error: ApiError, request_id: str, context: _Context) -> SimResponse:
        context.error_type, context.error_message = error.error_type, error.message
        headers = self._headers(request_id, context.principal)
        headers.extend(error.headers.items())
        body = error_body(error.error_type, error.message, request_id, error.details)
        return SimResponse(error.status, headers, body)

    def _json(
        self, payload: Any, request_id: str, principal: Principal | None, status: int = 200
    ) -> SimResponse:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return SimResponse(status, self._headers(request_id, principal), body)

    def _route(self, request: SimRequest, request_id: str, context: _Context) -> SimResponse:
        if max(len(request.body), request.declared_size) > self.max_request_bytes:
            raise ApiError(413)
        method = request.method.upper()
        path = request.path.rstrip("/") or "/"
        if path == "/v1/oauth/token":
            self._require_method(method, "POST")
            return self._oauth_token(request, request_id, context)
        handler = self._api_handler(method, path)
        principal = self.credentials.authenticate(request.headers, now=self.clock.now())
        context.principal = principal
        context.api_version = check_api_version(request.headers)
        fault = self.faults.take_status(path, principal.fingerprint)
        if fault is not None:
            context.fault = fault.describe()
            raise self._fault_error(fault, principal)
        return handler(request, request_id, context, path)

    @staticmethod
    def _require_method(method: str, allowed: str) -> None:
        if method != allowed:
            raise ApiError(405, "Method Not Allowed")

    def _api_handler(self, method: str, path: str) -> Callable[..., SimResponse]:
        routes: dict[tuple[str, str], Callable[..., SimResponse]] = {
            ("POST", "/v1/messages"): self._messages,
            ("POST", "/v1/messages/count_tokens"): self._count_tokens,
            ("POST", "/v1/messages/batches"): self._batch_create,
            ("GET", "/v1/messages/batches"): self._batch_list,
            ("GET", "/v1/models"): self._models_list,
        }
        handler = routes.get((method, path))
        if handler is not None:
            return handler
        if any(p == path for _, p in routes):
            raise ApiError(405, "Method Not Allowed")
        parts = path.split("/")
        if path.startswith("/v1/models/") and len(parts) == 4:
            self._require_method(method, "GET")
            return self._models_retrieve
        if path.startswith("/v1/messages/batches/") and len(parts) in (5, 6):
            action = parts[5] if len(parts) == 6 else ""
            expected = {"": ("GET", "DELETE"), "cancel": ("POST",), "results": ("GET",)}.get(action)
            if expected is None:
                raise ApiError(404, "Not Found")
            if method not in expected:
                raise ApiError(405, "Method Not Allowed")
            return self._batch_item
        raise ApiError(404, "Not Found")

    def _fault_error(self, fault: Fault, principal: Principal | None) -> ApiError:
        headers: dict[str, str] = {}
        if fault.status == 429 and principal is not None:
            headers.update(self.rate_limits.headers(principal.fingerprint, self.clock.now(), exhausted=True))
        if fault.retry_after is not None:
            value = fault.retry_after
            headers["retry-after"] = str(int(value)) if float(value).is_integer() else repr(float(value))
        if fault.should_retry is not None:
            headers["x-should-retry"] = "true" if fault.should_retry else "false"
        return ApiError(fault.status or 500, fault.message, error_type=fault.error_type, headers=headers)

    # -- /v1/messages -------------------------------------------------------------------------

    def _validated_model(self, body: dict, api_version: str, **options: Any) -> ModelFacts:
        """Validate the body (400), then resolve its model (404)."""
        model = body.get("model")
        known = model_facts.lookup(model)
        validate_messages_body(
            body,
            api_version=api_version,
            max_output_tokens=known.max_output if known is not None else None,
            **options,
        )
        info = self.models.resolve(body["model"])
        geo = body.get("inference_geo")
        if geo is not None and geo not in ("global", "us"):
            raise invalid_request("inference_geo: Input should be 'global' or 'us'")
        return info

    def _run(self, principal: Principal, body: dict, info: ModelFacts, *, tier: str, message_id: str) -> _Run:
        factor = info.tokenizer_factor
        blocks = request_positions(body, factor)
        plan = build_plan(body, blocks, trailing_tokens(factor), info.default_effort)
        scope = (*principal.scope, info.id)
        outcome = self._cache.evaluate(scope, plan, self.models.min_cacheable(info.id), self.clock.now())
        reply = generate_reply(body, reply_tokens=self.reply_tokens, factor=factor, id_seed=message_id)
        usage = build_usage(
            outcome,
            reply.output_tokens,
            service_tier=tier,
            inference_geo=body.get("inference_geo") or "global",
            thinking_tokens=reply.thinking_tokens,
            speed=body.get("speed"),
        )
        message: dict = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": reply.content,
            "stop_reason": reply.stop_reason,
            "stop_sequence": reply.stop_sequence,
            "usage": usage,
        }
        diagnostics = body.get("diagnostics")
        if isinstance(diagnostics, dict):
            current = fingerprint_request(
                body,
                blocks,
                scope=principal.scope,
                model=info.id,
                cached_tokens=outcome.read + outcome.creation,
                default_effort=info.default_effort,
            )
            reason = None
            previous_id = diagnostics.get("previous_message_id")
            if previous_id is not None:
                reason = diagnose(self._diagnostics.get(previous_id), current)
            message["diagnostics"] = {"cache_miss_reason": reason} if reason is not None else None
            self._diagnostics.remember(message_id, current)
        return _Run(message, reply, usage, outcome.pending)

    def _messages(self, request: SimRequest, request_id: str, context: _Context, path: str) -> SimResponse:
        principal = context.principal
        assert principal is not None
        body = parse_json_body(request.body)
        context.model = body.get("model") if isinstance(body.get("model"), str) else None
        context.stream = body.get("stream") is True
        info = self._validated_model(body, context.api_version or NEW_API_VERSION)
        if body.get("thread") is not None:
            # Message threads (beta) keep a conversation server-side; this server cannot, and
            # says so the way the API does, so the SDK's tool runner resends full histories.
            raise ApiError(
                400,
                "thread: message threads are not supported by this server; send the whole "
                "conversation without `thread`",
                details={"error_code": "thread_unsupported_request", "unsupported": ["thread"]},
            )
        message_id = self._new_message_id()
        run = self._run(principal, body, info, tier="standard", message_id=message_id)
        context.usage = run.usage
        context.message_id = message_id
        usage = run.usage
        now = self.clock.now()
        self.rate_limits.record(
            principal.fingerprint,
            now,
            input_tokens=usage["input_tokens"] + usage["cache_creation_input_tokens"],
            output_tokens=usage["output_tokens"],
        )
        headers_extra = self.rate_limits.headers(principal.fingerprint, now)
        pending = run.pending
        cache = self._cache
        clock = self.clock

        def begin() -> None:
            cache.commit(pending, clock.now())

        latency = self.latency
        first_token = latency.time_to_first_token(usage) if latency else 0.0
        output_seconds = latency.output_seconds(usage["output_tokens"]) if latency else 0.0
        if not context.stream:
            response = self._json(run.message, request_id, principal)
            response.headers.extend(headers_extra.items())
            response.delay = first_token + output_seconds
            response.on_begin = begin
            return response
        chunks = message_events(run.message, run.reply, usage, output_seconds=output_seconds)
        headers = self._headers(request_id, principal, "text/event-stream; charset=utf-8")
        headers.append(("cache-control", "no-cache"))
        headers.extend(headers_extra.items())
        response = SimResponse(200, headers, chunks=chunks, delay=first_token, on_begin=begin)
        fault = self.faults.take_stream(principal.fingerprint)
        if fault is not None:
            context.fault = fault.describe()
            after = max(0, min(fault.after_events, len(chunks)))
            if fault.kind == "drop_stream":
                response.drop_after = after
            else:
                response.chunks = [
                    *chunks[:after],
                    error_event(
                        fault.error_type or "overloaded_error", fault.message or "Overloaded", request_id
                    ),
                ]
        return response

    def _count_tokens(
        self, request: SimRequest, request_id: str, context: _Context, path: str
    ) -> SimResponse:
        body = parse_json_body(request.body)
        context.model = body.get("model") if isinstance(body.get("model"), str) else None
        info = self._validated_model(body, context.api_version or NEW_API_VERSION, count_tokens=True)
        # Breakpoint rules apply here too (automatic caching is accepted by count_tokens).
        factor = info.tokenizer_factor
        plan = build_plan(body, request_positions(body, factor), trailing_tokens(factor))
        return self._json({"input_tokens": plan.total}, request_id, context.principal)

    # -- batches ------------------------------------------------------------------------------

    def _process_batch_request(
        self, principal: Principal, params: dict, custom_id: str, api_version: str
    ) -> dict:
        try:
            if params.get("stream"):
                raise invalid_request("stream: Streaming is not supported in Message Batches")
            info = self._validated_model(params, api_version, in_batch=True)
            run = self._run(principal, params, info, tier="batch", message_id=self._new_message_id())
            self._cache.commit(run.pending, self.clock.now())
            return {"type": "succeeded", "message": run.message}
        except ApiError as error:
            request_id = self._new_request_id()
            return {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {"type": error.error_type, "message": error.message},
                    "request_id": request_id,
                },
            }

    def _batch_create(
        self, request: SimRequest, request_id: str, context: _Context, path: str
    ) -> SimResponse:
        body = parse_json_body(request.body)
        batch = self.batches.create(
            context.principal,
            body,
            now=self.clock.now(),
            base_url=request.base_url,
            api_version=context.api_version or NEW_API_VERSION,
        )
        context.batch_id = batch["id"]
        return self._json(batch, request_id, context.principal)

    def _batch_list(self, request: SimRequest, request_id: str, context: _Context, path: str) -> SimResponse:
        page = self.batches.list_page(
            context.principal,
            now=self.clock.now(),
            limit=_int_query(request.query, "limit", 20),
            after_id=request.query.get("after_id"),
            before_id=request.query.get("before_id"),
        )
        return self._json(page, request_id, context.principal)

    def _batch_item(self, request: SimRequest, request_id: str, context: _Context, path: str) -> SimResponse:
        parts = path.split("/")
        batch_id = parts[4]
        action = parts[5] if len(parts) == 6 else ""
        context.batch_id = batch_id
        now = self.clock.now()
        principal = context.principal
        if action == "cancel":
            return self._json(self.batches.cancel(principal, batch_id, now=now), request_id, principal)
        if action == "results":
            body = self.batches.results(principal, batch_id, now=now)
            return SimResponse(200, self._headers(request_id, principal, "application/x-jsonl"), body)
        if request.method.upper() == "DELETE":
            return self._json(self.batches.delete(principal, batch_id, now=now), request_id, principal)
        return self._json(self.batches.retrieve(principal, batch_id, now=now), request_id, principal)

    # -- models -------------------------------------------------------------------------------

    def _models_list(self, request: SimRequest, request_id: str, context: _Context, path: str) -> SimResponse:
        limit = _int_query(request.query, "limit", 20)
        if not 1 <= limit <= 1000:
            raise invalid_request("limit: Input should be between 1 and 1000")
        page = self.models.list_page(
            limit=limit, after_id=request.query.get("after_id"), before_id=request.query.get("before_id")
        )
        return self._json(page, request_id, context.principal)

    def _models_retrieve(
        self, request: SimRequest, request_id: str, context: _Context, path: str
    ) -> SimResponse:
        model_id = path.split("/")[3]
        context.model = model_id
        return self._json(self.models.retrieve(model_id), request_id, context.principal)

    # -- oauth --------------------------------------------------------------------------------

    def _oauth_token(self, request: SimRequest, request_id: str, context: _Context) -> SimResponse:
        content_type = request.headers.get("content-type", "")
        # Known before any fault fires, so the log counts a failed refresh attempt too.
        context.grant_type, context.refresh_masked, context.refresh_fingerprint = describe_token_request(
            request.body, content_type
        )
        fault = self.faults.take_status("/v1/oauth/token", None)
        if fault is not None:
            context.fault = fault.describe()
            raise self._fault_error(fault, None)
        result = handle_token_request(
            self.credentials,
            request.body,
            content_type,
            now=self.clock.now(),
            client_ids=self.oauth_client_ids,
            access_expires_in=self.oauth_access_expires_in,
        )
        if result.status != 200:
            context.error_type = result.payload.get("error")
            context.error_message = result.payload.get("error_description")
        context.refresh_scope = (result.organization, result.workspace)
        return self._json(result.payload, request_id, None, status=result.status)


def _int_query(query: Mapping[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid_request(f"{name}: Input should be a valid integer") from None
