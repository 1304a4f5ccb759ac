"""`Workspace`: the one entry point the magics, the widgets and the CLI share.

    ws = Workspace(agent="main")
    reply = ws.ask("Summarise this", system=long_document, ttl="1h")
    for chunk in (stream := ws.stream("And now in French")):
        print(chunk, end="")
    stream.reply.cost, ws.usage()

A call picks profiles in the agent's order (cooling-down ones skipped), plans the cache
breakpoints for that profile's wire path, sends through the official SDK, fails over on
rate limits, billing, auth errors and timeouts, marks the profile's stats, and records one
ledger row. It works without IPython.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawdbot_nb import catalog
from clawdbot_nb.api import ledger as ledger_module
from clawdbot_nb.api.client import (
    ClientOptions,
    build_client,
    fail_fast_variant,
    uses_oauth_wire,
    with_identity,
)
from clawdbot_nb.api.failover import Failover
from clawdbot_nb.api.oauth import OAuthRefresher
from clawdbot_nb.api.planner import CachePlan, check_ttl, plan_cache
from clawdbot_nb.api.pricing import compute_cost, price_overrides_from_config
from clawdbot_nb.api.reply import Reply, utcnow
from clawdbot_nb.api.writer import BackgroundWriter
from clawdbot_nb.errors import ClawdbotError, UsageError
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.cooldown import prune_expired, record_failure, record_success
from clawdbot_nb.state.selection import AuthCandidate, auth_candidates, next_change_ms

if TYPE_CHECKING:
    import pandas as pd

    from clawdbot_nb.api.ledger import Ledger, LedgerTotals
    from clawdbot_nb.api.streaming import AsyncReplyStream, ReplyStream
    from clawdbot_nb.state.status import StatusReport

DEFAULT_MAX_TOKENS = 1024
#: The SDK refuses non-streaming calls that may run past 10 minutes (3600 s x max_tokens / 128k).
NON_STREAMING_MAX_TOKENS = 21_333
#: Recent one-turn plans kept per workspace.
PLAN_MEMO_SIZE = 64


@dataclass
class Request:
    """A validated call, before a profile is chosen."""

    model: str
    messages: list[dict[str, Any]]
    system: str | list[dict[str, Any]] | None
    max_tokens: int
    ttl: str | None
    cache: bool
    profile: str | None
    tools: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cell: str | None = None
    #: The config this call was validated against (one read per call).
    config: ClawdbotConfig | None = field(default=None, repr=False, compare=False)


def _resolve_model(model: str | None, default: str | None, configured: str | None) -> str:
    chosen = model or default or configured or catalog.DEFAULT_MODEL
    if "/" in chosen:
        provider, _, bare = chosen.partition("/")
        if provider != "anthropic":
            source = "the config's agents.defaults.model.primary" if not (model or default) else "model"
            raise UsageError(
                f"{source} is {chosen!r}, but clawdbot_nb talks to Anthropic only.",
                fix=f"pass model='{catalog.DEFAULT_MODEL}' (or another Claude model id)",
            )
        chosen = bare
    info = catalog.lookup(chosen)
    if info is not None and info.retired:
        raise UsageError(
            f"{chosen} was retired from the Anthropic API; requests to it fail.",
            fix=f"use a current model, e.g. {', '.join(catalog.SUGGESTED_MODELS[:3])}",
        )
    return chosen


def _check_max_tokens(max_tokens: int, model: str) -> int:
    info = catalog.lookup(model)
    ceiling = info.max_output_tokens if info else 128_000
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= ceiling:
        raise UsageError(
            f"max_tokens must be a whole number from 1 to {ceiling:,} for {model}, got {max_tokens!r}.",
            fix=f"e.g. max_tokens={DEFAULT_MAX_TOKENS}",
        )
    return max_tokens


def _user_message(prompt: Any) -> dict[str, Any]:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise UsageError("The prompt is empty.", fix="write something to send, e.g. ws.ask('Hello')")
        return {"role": "user", "content": prompt}
    if isinstance(prompt, list) and prompt:
        return {"role": "user", "content": prompt}
    raise UsageError(
        f"The prompt must be text (or a list of content blocks), got {type(prompt).__name__}.",
        fix="pass a string",
    )


class Workspace:
    """Claude for one agent: its profiles, its config, its usage ledger."""

    def __init__(
        self,
        agent: str | AgentState | None = None,
        *,
        model: str | None = None,
        ttl: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        base_url: str | None = None,
        transport: Any = None,
        http_client: Any = None,
        async_http_client: Any = None,
        max_retries: int = 2,
        timeout: float | None = None,
        ledger: bool | str | os.PathLike[str] | Ledger = True,
        oauth_token_url: str | None = None,
        cell: Callable[[], str | None] | None = None,
    ) -> None:
        self.agent = agent if isinstance(agent, AgentState) else AgentState.resolve(agent)
        self.model = model
        self.ttl = check_ttl(ttl)
        self.max_tokens = max_tokens
        self.cell = cell
        self._transport = transport
        if transport is not None:
            import httpx2

            http_client = http_client or httpx2.Client(transport=transport)
            async_http_client = async_http_client or httpx2.AsyncClient(transport=transport)
        self._options = ClientOptions(
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout,
            http_client=http_client,
            async_http_client=async_http_client,
        )
        self._refresher = OAuthRefresher(
            self.agent,
            http_client_factory=self._refresh_http_client,
            url=oauth_token_url or self._refresh_url(base_url),
        )
        self._clients: dict[tuple[str, str, bool, bool], Any] = {}
        self._overrides: tuple[Any, dict[str, Any]] | None = None
        self._plans: dict[tuple[Any, ...], CachePlan] = {}
        self._candidate_cache: tuple[Any, Any, str | None, int, list[AuthCandidate]] | None = None
        self._ledger = self._open_ledger(ledger)
        self._writer = BackgroundWriter({"call": self._write_calls})
        self.simulator: Any = None

    # -- construction helpers ------------------------------------------------------------------

    @classmethod
    def simulated(cls, simulator: Any = None, **kwargs: Any) -> Workspace:
        """A workspace talking to an in-process simulator (a new one unless given)."""
        from clawdbot_nb import sim

        simulator = simulator or sim.Simulator()
        workspace = cls(transport=simulator.transport(), **kwargs)
        workspace.simulator = simulator
        return workspace

    @staticmethod
    def _refresh_url(base_url: str | None) -> str | None:
        return base_url.rstrip("/") + "/v1/oauth/token" if base_url else None

    def _refresh_http_client(self) -> Any:
        import httpx2

        if self._transport is not None:
            return httpx2.Client(transport=self._transport)
        return httpx2.Client()

    def _open_ledger(self, ledger: Any) -> Ledger | None:
        if ledger is False or ledger is None:
            return None
        if isinstance(ledger, ledger_module.Ledger):
            return ledger
        path = ledger_module.ledger_path(self.agent.state_dir) if ledger is True else Path(ledger)
        return ledger_module.Ledger(path)

    def __repr__(self) -> str:
        return f"Workspace(agent={self.agent.agent_id!r}, state_dir={str(self.agent.state_dir)!r})"

    # -- requests --------------------------------------------------------------------------------

    def request(
        self,
        prompt: Any,
        *,
        system: str | list[dict[str, Any]] | None = None,
        model: str | None = None,
        ttl: str | None = None,
        max_tokens: int | None = None,
        profile: str | None = None,
        cache: bool = True,
        history: list[dict[str, Any]] | None = None,
        tools: list[dict[str, Any]] | None = None,
        cell: str | None = None,
        **extra: Any,
    ) -> Request:
        """Validate a call's arguments (every `ask`/`stream` goes through here)."""
        config = self.agent.config()
        model_id = _resolve_model(model, self.model, config.primary_model)
        messages = [*(history or []), _user_message(prompt)]
        if cell is None and self.cell is not None:
            cell = self.cell()
        return Request(
            model=model_id,
            messages=messages,
            system=system or None,
            max_tokens=_check_max_tokens(self.max_tokens if max_tokens is None else max_tokens, model_id),
            ttl=check_ttl(ttl if ttl is not None else self.ttl),
            cache=cache,
            profile=profile,
            tools=tools,
            extra=extra,
            cell=cell,
            config=config,
        )

    def plan(self, request: Request, candidate: AuthCandidate) -> CachePlan:
        """The request body for one profile, with its cache breakpoints.

        Planning is a pure function; a one-turn text request seen recently (a re-run cell, a
        loop over the same prompt) reuses its plan. A plan's `params` must not be changed.
        """
        oauth = uses_oauth_wire(candidate.credential)
        config = request.config or self.agent.config()
        configured = config.cache_ttl(request.model, self.agent.agent_id)
        key = None
        content = request.messages[0]["content"] if len(request.messages) == 1 else None
        simple_system = request.system is None or isinstance(request.system, str)
        if isinstance(content, str) and simple_system and not request.tools and not request.extra:
            key = (request.model, request.max_tokens, request.system, content, request.ttl, request.cache)
            key += (oauth, configured)
            cached = self._plans.get(key)
            if cached is not None:
                return cached
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": request.messages,
        }
        system = with_identity(request.system) if oauth else request.system
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = request.tools
        params.update(request.extra)
        plan = plan_cache(
            params, ttl=request.ttl, configured=configured, oauth_wire=oauth, cache=request.cache
        )
        if key is not None:
            if len(self._plans) >= PLAN_MEMO_SIZE:
                self._plans.pop(next(iter(self._plans)))
            self._plans[key] = plan
        return plan

    def _client(self, candidate: AuthCandidate, asynchronous: bool, fail_fast: bool = False) -> Any:
        """The cached client for a candidate; `fail_fast` for the variant failover moves on from."""
        kind = "oauth-profile" if candidate.credential.type == "oauth" else candidate.credential.secret
        key = (candidate.label, kind, asynchronous, fail_fast)
        client = self._clients.get(key)
        if client is None:
            if fail_fast:
                client = fail_fast_variant(self._client(candidate, asynchronous), asynchronous)
            else:
                client = build_client(
                    candidate.credential,
                    self._options,
                    profile_id=candidate.profile_id,
                    refresher=self._refresher,
                    asynchronous=asynchronous,
                )
            self._clients[key] = client
        return client

    def _candidates(self, request: Request) -> list[AuthCandidate]:
        """The call's candidates; reused while the store, the config and every expiry are unchanged."""
        config = request.config or self.agent.config()
        store = self.agent.load_store(config=config)
        now = now_ms()
        cached = self._candidate_cache
        if (
            cached is not None
            and cached[0] is store
            and cached[1] is config
            and cached[2] == request.profile
            and now < cached[3]
        ):
            return cached[4]
        candidates = auth_candidates(
            self.agent, "anthropic", profile_id=request.profile, store=store, config=config, now=now
        )
        if all(c.profile_id is not None for c in candidates):  # the environment can change any time
            self._candidate_cache = (store, config, request.profile, next_change_ms(store, now), candidates)
        return candidates

    # -- bookkeeping -----------------------------------------------------------------------------

    def _mark_failure(self, candidate: AuthCandidate, reason: str) -> None:
        """Cool the profile down now: the next call, here or in another process, must see it."""
        policy = self.agent.config().cooldown_policy
        profile_id = candidate.profile_id
        assert profile_id is not None

        def apply(store) -> None:
            stats = record_failure(
                store.stats(profile_id), reason, now_ms(), provider="anthropic", policy=policy
            )
            store.set_stats(profile_id, stats)

        try:
            self.agent.store_file.update(apply)
        except ClawdbotError as error:
            warnings.warn(f"could not record the cooldown of {profile_id}: {error}", stacklevel=3)

    def _record(self, succeeded: str | None, **fields: Any) -> None:
        """Queue the bookkeeping of one finished call: the success mark of the profile that
        answered (`succeeded`) and the ledger row. The row is built in the background too."""
        self._writer.submit("call", (succeeded, now_ms(), fields))

    def _write_calls(self, calls: list[tuple[str | None, int, dict[str, Any]]]) -> None:
        """One store transaction for the batch's successes, one ledger transaction for its rows."""
        # Success only moves lastUsed forward and clears counters: the latest mark per profile is
        # all that needs writing, and the last success names lastGood.
        latest: dict[str, int] = {}
        for profile_id, stamp, _ in calls:
            if profile_id is not None:
                latest.pop(profile_id, None)
                latest[profile_id] = stamp
        if latest:

            def apply(store) -> None:
                for profile_id, stamp in latest.items():
                    if store.get(profile_id) is None:
                        continue  # removed meanwhile
                    stats = prune_expired(record_success(store.stats(profile_id), stamp), stamp)
                    store.set_stats(profile_id, stats)
                    store.set_last_good("anthropic", profile_id)

            self.agent.store_file.update(apply)
        if self._ledger is not None:
            rows = []
            for _, stamp, fields in calls:
                overrides = fields.pop("price_overrides", None)
                if fields.get("usage") is not None:
                    fields["cost"] = compute_cost(fields["model"], fields["usage"], overrides=overrides)
                rows.append(ledger_module.build_row(agent=self.agent.agent_id, time_ms=stamp, **fields))
            self._ledger.append_many(rows)

    def _price_overrides(self, config: ClawdbotConfig) -> dict[str, Any]:
        cached = self._overrides
        if cached is None or cached[0] is not config:  # configs are re-parsed only when changed
            cached = self._overrides = (
                config,
                price_overrides_from_config(config.data, config_path=str(config.path)),
            )
        return cached[1]

    def _reply(
        self,
        request: Request,
        candidate: AuthCandidate,
        plan: CachePlan,
        message: Any,
        failover: Failover,
        started: float,
        ttft: float | None,
        streamed: bool,
        request_id: str | None = None,
    ) -> Reply:
        """The Reply of a successful call, and its bookkeeping queued. A streamed message carries
        no request id of its own: the stream's (`request_id`) is passed instead."""
        latency = time.perf_counter() - started
        overrides = self._price_overrides(request.config or self.agent.config())
        text = "".join(getattr(block, "text", "") for block in message.content if block.type == "text")
        reply = Reply(
            text=text,
            model=request.model,
            agent=self.agent.agent_id,
            profile=candidate.label,
            credential_type=candidate.credential.type,
            raw_usage=message.usage,
            plan=plan,
            latency_s=latency,
            ttft_s=ttft,
            request_id=request_id or getattr(message, "_request_id", None),
            stop_reason=message.stop_reason,
            finished_at=utcnow(),
            attempts=tuple(failover.attempts),
            streamed=streamed,
            message=message,
            price_overrides=overrides,
        )
        self._record(
            candidate.profile_id,
            model=request.model,
            usage=message.usage,
            price_overrides=overrides,
            profile_id=candidate.label,
            credential_type=candidate.credential.type,
            ttl_requested=plan.ttl_requested,
            ttl_applied=plan.ttl_applied,
            ttl_note=plan.ttl_note,
            breakpoints=len(plan.breakpoints),
            latency_s=latency,
            ttft_s=ttft,
            stop_reason=message.stop_reason,
            request_id=reply.request_id,
            cell=request.cell,
            stream=streamed,
            attempts=len(failover.attempts) + 1,
            profiles_tried=[*failover.tried, candidate.label],
        )
        return reply

    def _record_error(
        self, request: Request, error: BaseException, failover: Failover | None, streamed: bool
    ) -> None:
        self._record(
            None,
            model=request.model,
            error=error if not isinstance(error, ClawdbotError) else str(error),
            ttl_requested=request.ttl,
            cell=request.cell,
            stream=streamed,
            attempts=max(1, len(failover.attempts)) if failover else 1,
            profiles_tried=failover.tried if failover else [],
        )

    # -- ask -------------------------------------------------------------------------------------

    def ask(self, prompt: Any, **options: Any) -> Reply:
        """Send `prompt` and wait for the whole reply. Options: see `request()`."""
        request = self.request(prompt, **options)
        failover: Failover | None = None
        try:
            failover = Failover(self._candidates(request), self._mark_failure)
            for candidate in failover:
                plan = self.plan(request, candidate)
                started = time.perf_counter()
                try:
                    client = self._client(candidate, asynchronous=False, fail_fast=failover.more)
                    request_id = None
                    if request.max_tokens > NON_STREAMING_MAX_TOKENS:
                        with client.messages.stream(**plan.params) as stream:
                            message, request_id = stream.get_final_message(), stream.request_id
                    else:
                        message = client.messages.create(**plan.params)
                except Exception as error:
                    failover.failed(candidate, error)
                    continue
                return self._reply(
                    request, candidate, plan, message, failover, started, None, False, request_id
                )
            raise failover.exhausted()
        except Exception as error:
            self._record_error(request, error, failover, streamed=False)
            raise

    async def aask(self, prompt: Any, **options: Any) -> Reply:
        """`ask` for `async` code (top-level `await` in a notebook)."""
        request = self.request(prompt, **options)
        failover: Failover | None = None
        try:
            failover = Failover(self._candidates(request), self._mark_failure)
            for candidate in failover:
                plan = self.plan(request, candidate)
                started = time.perf_counter()
                try:
                    client = self._client(candidate, asynchronous=True, fail_fast=failover.more)
                    request_id = None
                    if request.max_tokens > NON_STREAMING_MAX_TOKENS:
                        async with client.messages.stream(**plan.params) as stream:
                            message, request_id = await stream.get_final_message(), stream.request_id
                    else:
                        message = await client.messages.create(**plan.params)
                except Exception as error:
                    failover.failed(candidate, error)
                    continue
                return self._reply(
                    request, candidate, plan, message, failover, started, None, False, request_id
                )
            raise failover.exhausted()
        except Exception as error:
            self._record_error(request, error, failover, streamed=False)
            raise

    # -- stream ----------------------------------------------------------------------------------

    def stream(self, prompt: Any, **options: Any) -> ReplyStream:
        """Iterate over the reply's text as it arrives; `.reply` holds the `Reply` at the end.

        A profile that fails before the first text arrives is failed over like in `ask`.
        """
        from clawdbot_nb.api.streaming import ReplyStream

        return ReplyStream(self, self.request(prompt, **options))

    def astream(self, prompt: Any, **options: Any) -> AsyncReplyStream:
        """`stream` for `async for`."""
        from clawdbot_nb.api.streaming import AsyncReplyStream

        return AsyncReplyStream(self, self.request(prompt, **options))

    # -- views -----------------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait until the success marks and ledger rows of finished calls are written."""
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
        if self._ledger is not None:
            self._ledger.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status(self) -> StatusReport:
        """The `models status` report for this agent."""
        from clawdbot_nb.state.status import models_status

        self.flush()
        return models_status(self.agent)

    def profiles(self) -> pd.DataFrame:
        """The agent's auth profiles with their verdicts, one row each."""
        return self.status().profiles_frame()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise UsageError(
                "This workspace keeps no ledger (ledger=False).", fix="create it with ledger=True"
            )
        self.flush()
        return self._ledger

    def usage(
        self, *, session_only: bool = False, since: Any = None, all_agents: bool = False
    ) -> pd.DataFrame:
        """One row per call: tokens by kind, hit ratio, cost, savings, latency, profile, cell."""
        return self.ledger.dataframe(
            since=since,
            session=ledger_module.current_session() if session_only else None,
            agent=None if all_agents else self.agent.agent_id,
        )

    def usage_summary(
        self, by: str | tuple[str, ...] = "model", *, session_only: bool = False
    ) -> pd.DataFrame:
        """Totals grouped `by` profile_id, model, ttl_applied, cell, … with the pooled hit ratio."""
        return self.ledger.summary(
            by=by,
            session=ledger_module.current_session() if session_only else None,
            agent=self.agent.agent_id,
        )

    def totals(self, *, session_only: bool = False) -> LedgerTotals:
        return self.ledger.totals(
            session=ledger_module.current_session() if session_only else None, agent=self.agent.agent_id
        )
