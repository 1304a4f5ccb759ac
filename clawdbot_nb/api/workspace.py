"""`Workspace`: the one entry point the magics, the widgets and the CLI share.

    with Workspace(agent="main") as ws:
        reply = ws.ask("Summarise this", system=long_document, ttl="1h")
        for chunk in (stream := ws.stream("And now in French")):
            print(chunk, end="")
        stream.reply.cost, ws.usage()

A call is validated here, then run by the call engine (`call.py`, the one failover policy)
through one of its drivers (`drivers.py`); the bookkeeper (`bookkeeping.py`) applies its effects
— cooldowns, success marks, the ledger row — before the call returns. The workspace owns its
SDK clients (`clients.ClientPool`) and closes them with `close()` or `with`. It works without
IPython.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawdbot_nb import catalog
from clawdbot_nb.api import cache_store, drivers
from clawdbot_nb.api.bookkeeping import Bookkeeper, BookkeepingWarning
from clawdbot_nb.api.cache_calls import CallWatcher
from clawdbot_nb.api.cache_watch import CacheWatch, acquire_watch, clock_for
from clawdbot_nb.api.call import CallEngine, CallRequest
from clawdbot_nb.api.clients import ClientOptions, ClientPool, uses_oauth_wire, with_identity
from clawdbot_nb.api.clock import Clock, VirtualTime, as_clock
from clawdbot_nb.api.conversation import check_name
from clawdbot_nb.api.ledger import Ledger, LedgerUnavailable, current_session, ledger_path
from clawdbot_nb.api.oauth import OAuthRefresher
from clawdbot_nb.api.planner import AUTO_TTL, CachePlan, check_ttl, plan_cache
from clawdbot_nb.api.pricing import price_overrides_from_config
from clawdbot_nb.errors import ClawdbotError, UsageError, fix_for
from clawdbot_nb.state import nb_settings
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.credentials import ApiKeyCredential
from clawdbot_nb.state.selection import AuthCandidate, auth_candidates, next_change_ms

if TYPE_CHECKING:
    import pandas as pd

    from clawdbot_nb.api.conversation import Conversation
    from clawdbot_nb.api.ledger import LedgerTotals
    from clawdbot_nb.api.reply import Reply
    from clawdbot_nb.api.streaming import AsyncReplyStream, ReplyStream
    from clawdbot_nb.api.what_if import WhatIf
    from clawdbot_nb.state.status import StatusReport

DEFAULT_MAX_TOKENS = 1024
#: Recent one-turn plans kept per workspace.
PLAN_MEMO_SIZE = 64
#: The simulator's sandbox profile (see `Workspace.simulated`).
SANDBOX_PROFILE_ID = "anthropic:sim-demo"


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


def _check_flag(value: Any, argument: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise UsageError(f"{argument} must be True, False or None, got {value!r}.", fix=f"e.g. {argument}=True")


def _user_message(prompt: Any) -> dict[str, Any]:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise UsageError(
                "The prompt is empty.",
                fix=fix_for(
                    python="write something to send, e.g. ws.ask('Hello')",
                    cli="write something to send, e.g. clawdbot-nb ask 'Hello'",
                    magic="write the prompt in the cell under %%clawdbot, or %clawdbot ask 'Hello'",
                ),
            )
        return {"role": "user", "content": prompt}
    if isinstance(prompt, list) and prompt:
        return {"role": "user", "content": prompt}
    raise UsageError(
        f"The prompt must be text (or a list of content blocks), got {type(prompt).__name__}.",
        fix="pass a string",
    )


def _utc(seconds: float) -> datetime:
    # Whole microseconds: pandas keeps them exactly, and nothing is lost showing them.
    return datetime.fromtimestamp(seconds, tz=UTC)


class Workspace:
    """Claude for one agent: its profiles, its config, its usage ledger, its SDK clients."""

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
        clock: Clock | Callable[[], float] | None = None,
    ) -> None:
        self.agent = agent if isinstance(agent, AgentState) else AgentState.resolve(agent)
        #: The one clock of this workspace (`api/clock.py`): the engine, the profile order, the
        #: bookkeeper (through the engine's effects) and the map's scheduler read `now_ms()` and
        #: wait with it; the cache watch reads `clock()`, the time cache entries live on.
        self.clock: Clock = as_clock(clock if clock is not None else clock_for(base_url))
        self.model = model
        self.ttl = check_ttl(ttl)
        self.max_tokens = max_tokens
        self.cell = cell
        self.max_retries = max_retries
        self._transport = transport
        self._refresher = OAuthRefresher(
            self.agent,
            http_client_factory=self._refresh_http_client,
            url=oauth_token_url or (base_url.rstrip("/") + "/v1/oauth/token" if base_url else None),
        )
        self.clients = ClientPool(
            ClientOptions(
                base_url=base_url,
                max_retries=max_retries,
                timeout=timeout,
                transport=transport,
                http_client=http_client,
                async_http_client=async_http_client,
            ),
            self._refresher,
        )
        self._ledger_problem: ClawdbotError | None = None
        self._ledger = self._open_ledger(ledger)
        self._conversations: Any = None  # opened by the first chat()
        self.bookkeeper = Bookkeeper(self.agent, self._ledger)
        self._overrides: tuple[Any, dict[str, Any]] | None = None
        self._plans: dict[tuple[Any, ...], CachePlan] = {}
        self._plans_lock = threading.Lock()  # a map plans from many threads
        self._candidate_cache: tuple[Any, ...] | None = None
        self.simulator: Any = None
        self._sandbox: weakref.finalize | None = None
        self._watch_file = None if self._ledger is None else self._ledger.path.parent / cache_store.FILENAME
        self.watcher = CallWatcher(self._open_watch, self._current_overrides)

    # -- construction helpers ------------------------------------------------------------------

    @classmethod
    def simulated(
        cls,
        simulator: Any = None,
        agent: str | AgentState | None = None,
        *,
        virtual_time: bool = False,
        **kwargs: Any,
    ) -> Workspace:
        """A workspace talking to an in-process simulator (a new `sim.Simulator()` unless given).

        Without `agent`, it runs in a throwaway state dir holding one profile with the
        simulator's public demo key (`sim.DEMO_API_KEY`): it works on a fresh machine, and no
        credential of yours is read, sent to the simulator or put into cooldown. The sandbox is
        removed by `close()` (or at exit). Pass `agent` to use that agent's real profiles instead.
        Cache entries live on the simulator's clock (`simulator.clock.advance` expires them);
        `virtual_time=True` puts everything on it — cooldowns, a map's waits, batch polls — so
        they pass in no real time (`clock.VirtualTime`). Otherwise calls run on wall time.
        """
        from clawdbot_nb import sim

        simulator = simulator or sim.Simulator()
        sandbox = None
        if agent is None:
            sandbox = Path(tempfile.mkdtemp(prefix="clawdbot-nb-simulated-"))
            agent = AgentState.resolve(env={"CLAWDBOT_STATE_DIR": str(sandbox), "HOME": str(sandbox)})
            key = ApiKeyCredential(provider="anthropic", key=sim.DEMO_API_KEY)
            agent.store_file.update(lambda store: store.set_credential(SANDBOX_PROFILE_ID, key))
        kwargs.setdefault("clock", VirtualTime(simulator.clock) if virtual_time else simulator.clock.now)
        workspace = cls(agent, transport=simulator.transport(), **kwargs)
        workspace.simulator = simulator
        if sandbox is not None:
            workspace._sandbox = weakref.finalize(workspace, shutil.rmtree, sandbox, ignore_errors=True)
        return workspace

    def _refresh_http_client(self) -> Any:
        import httpx2

        if self._transport is not None:
            return httpx2.Client(transport=self._transport)
        return httpx2.Client()

    def _open_ledger(self, ledger: Any) -> Ledger | None:
        if ledger is False or ledger is None:
            return None
        if isinstance(ledger, Ledger):
            return ledger
        path = ledger_path(self.agent.state_dir) if ledger is True else Path(ledger)
        try:
            return Ledger(path)
        except LedgerUnavailable as problem:
            # A prompt never fails for its bookkeeping: say so once, and answer anyway.
            self._ledger_problem = problem
            warnings.warn(str(problem), BookkeepingWarning, stacklevel=3)
            return None

    def _open_watch(self) -> CacheWatch:
        """The cache watch: on disk beside the ledger (shared by the agent's workspaces and
        kernels), or in memory for a workspace without a ledger."""
        if self._watch_file is None:
            return CacheWatch(clock=self.clock)
        return acquire_watch(self._watch_file, self.agent.agent_id, self.clock)

    def _current_overrides(self) -> dict[str, Any]:
        return self._price_overrides(self.agent.config())

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
        cache_last_turn: bool | None = None,
        conversation: str | None = None,
        **extra: Any,
    ) -> CallRequest:
        """Validate a call's arguments (every `ask`/`stream` goes through here).

        `cache_last_turn`: mark the prompt for caching so the next call reads it back. By
        default (None) it is marked only when `history` is given (the call continues a
        conversation; `chat()` marks every turn); a one-shot prompt is not, since nothing
        would read it (see `planner.py`). True marks it anyway, False never. `conversation`
        names the conversation this call is a turn of (`chat()` sets it), for the ledger.
        """
        started = time.perf_counter()
        config = self.agent.config()
        model_id = _resolve_model(model, self.model, config.primary_model)
        messages = [*(history or []), _user_message(prompt)]
        if cell is None and self.cell is not None:
            cell = self.cell()
        return CallRequest(
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
            cache_last_turn=_check_flag(cache_last_turn, "cache_last_turn"),
            conversation=None if conversation is None else check_name(conversation, "conversation"),
            config=config,
            started=started,
        )

    def plan(self, request: CallRequest, candidate: AuthCandidate) -> CachePlan:
        """The request body for one profile, with its cache breakpoints.

        Planning is a pure function; a one-turn text request seen recently (a re-run cell, a
        loop over the same prompt) reuses its plan. A plan's `params` must not be changed.
        The TTL is the call's, else clawdbot_nb's own setting (`state.nb_settings`), else the
        gateway config's; "auto" is decided here by the cache watch (`ttl_policy`).
        """
        config = request.config or self.agent.config()
        ours = nb_settings.cache_ttl(self.agent.state_dir, request.model, self.agent.agent_id)
        configured = ours or config.cache_ttl(request.model, self.agent.agent_id)
        if (request.ttl or (configured.ttl if configured else None)) == AUTO_TTL:
            source = "call" if request.ttl else configured.source  # type: ignore[union-attr]
            return self._auto_plan(request, candidate, source)
        return self._plan_with(request, candidate, request.ttl, configured)

    def _auto_plan(self, request: CallRequest, candidate: AuthCandidate, source: str) -> CachePlan:
        """`ttl="auto"`: plan, ask the cache watch for 5m or 1h, plan with its choice."""
        plan = self._plan_with(request, candidate, "5m", None)
        if not plan.breakpoints:
            return dataclasses.replace(plan, ttl_requested=AUTO_TTL, ttl_source=source)
        choice = self.watcher.advise(plan, candidate)
        if choice is None:
            reason = "5m: the cache watch is not running"
        else:
            reason = choice.reason
            if choice.ttl != "5m":
                plan = self._plan_with(request, candidate, choice.ttl, None)
        return dataclasses.replace(
            plan, ttl_requested=AUTO_TTL, ttl_source=source, ttl_note="auto: " + reason.split(": ", 1)[-1]
        )

    def _plan_with(
        self, request: CallRequest, candidate: AuthCandidate, ttl: str | None, configured: Any
    ) -> CachePlan:
        oauth = uses_oauth_wire(candidate.credential)
        key = None
        content = request.messages[0]["content"] if len(request.messages) == 1 else None
        simple_system = request.system is None or isinstance(request.system, str)
        if isinstance(content, str) and simple_system and not request.tools and not request.extra:
            if request.cache_last_turn is False:
                # The rows of a map or batch: nothing after the shared prefix is marked, so one
                # plan of that prefix serves every row (no token count of it per row).
                shared = ("prefix", request.model, request.max_tokens, request.system, ttl, request.cache)
                shared += (oauth, configured)
                base = self._plans.get(shared)
                if base is None:
                    base = self._plan_uncached(request, oauth, ttl, configured)
                    self._remember_plan(shared, base)
                return dataclasses.replace(base, params={**base.params, "messages": request.messages})
            key = (request.model, request.max_tokens, request.system, content, ttl, request.cache)
            key += (oauth, configured, request.cache_last_turn)
            cached = self._plans.get(key)
            if cached is not None:
                return cached
        plan = self._plan_uncached(request, oauth, ttl, configured)
        if key is not None:
            self._remember_plan(key, plan)
        return plan

    def _remember_plan(self, key: tuple[Any, ...], plan: CachePlan) -> None:
        with self._plans_lock:
            if len(self._plans) >= PLAN_MEMO_SIZE:
                self._plans.pop(next(iter(self._plans)), None)
            self._plans[key] = plan

    def _plan_uncached(
        self, request: CallRequest, oauth: bool, ttl: str | None, configured: Any
    ) -> CachePlan:
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
        return plan_cache(
            params,
            ttl=ttl,
            configured=configured,
            oauth_wire=oauth,
            cache=request.cache,
            last_turn=request.cache_last_turn,
        )

    def candidates(self, request: CallRequest) -> list[AuthCandidate]:
        """The call's profiles, best first (round robin sees this process's latest uses); reused
        while the store, the config, those uses and every expiry are unchanged. A usable
        `request.prefer` goes first."""
        candidates = self._ordered_candidates(request)
        if request.prefer is not None and candidates[0].label != request.prefer:
            preferred = [c for c in candidates if c.label == request.prefer]
            if preferred:
                candidates = [*preferred, *(c for c in candidates if c.label != request.prefer)]
        return candidates

    def _ordered_candidates(self, request: CallRequest) -> list[AuthCandidate]:
        config = request.config or self.agent.config()
        store = self.agent.load_store(config=config)
        now = self.clock.now_ms()
        recent = self.bookkeeper.recent
        key = (store, config, request.profile, recent.version)
        cached = self._candidate_cache
        if cached is not None and cached[0] == key and now < cached[1]:
            return cached[2]
        candidates = auth_candidates(
            self.agent,
            "anthropic",
            profile_id=request.profile,
            store=store,
            config=config,
            now=now,
            recent_use=recent.snapshot(),
        )
        if all(c.profile_id is not None for c in candidates):  # the environment can change any time
            self._candidate_cache = (key, next_change_ms(store, now), candidates)
        return candidates

    def _price_overrides(self, config: ClawdbotConfig) -> dict[str, Any]:
        cached = self._overrides
        if cached is None or cached[0] is not config:  # configs are re-parsed only when changed
            cached = self._overrides = (
                config,
                price_overrides_from_config(config.data, config_path=str(config.path)),
            )
        return cached[1]

    def engine(self, request: CallRequest, *, streamed: bool) -> CallEngine:
        """The call engine for one validated request (candidates chosen now)."""
        try:
            candidates: list[AuthCandidate] | ClawdbotError = self.candidates(request)
        except ClawdbotError as error:
            candidates = error
        return CallEngine(
            request,
            candidates,
            plan=lambda candidate: self.plan(request, candidate),
            agent_id=self.agent.agent_id,
            streamed=streamed,
            price_overrides=self._price_overrides(request.config or self.agent.config()),
            max_resends=self.max_retries,
            clock=self.clock.now_ms,
        )

    # -- the four ways to call -------------------------------------------------------------------

    def ask(self, prompt: Any, **options: Any) -> Reply:
        """Send `prompt` and wait for the whole reply. Options: see `request()`."""
        engine = self.engine(self.request(prompt, **options), streamed=False)
        return drivers.run(engine, self.clients, self.bookkeeper, self.watcher, self.clock)

    async def aask(self, prompt: Any, **options: Any) -> Reply:
        """`ask` for `async` code (top-level `await` in a notebook)."""
        engine = self.engine(self.request(prompt, **options), streamed=False)
        return await drivers.arun(engine, self.clients, self.bookkeeper, self.watcher, self.clock)

    def stream(self, prompt: Any, **options: Any) -> ReplyStream:
        """Iterate over the reply's text as it arrives; `.reply` holds the `Reply` at the end.

        A profile that fails before the first text arrives is failed over like in `ask`.
        """
        from clawdbot_nb.api.streaming import ReplyStream

        request = self.request(prompt, **options)

        def start() -> Iterator[str]:
            engine = self.engine(request, streamed=True)
            return drivers.run_stream(engine, self.clients, self.bookkeeper, self.watcher, self.clock)

        return ReplyStream(start)

    def astream(self, prompt: Any, **options: Any) -> AsyncReplyStream:
        """`stream` for `async for`."""
        from clawdbot_nb.api.streaming import AsyncReplyStream

        request = self.request(prompt, **options)

        def start(on_reply: Callable[[Reply], None]) -> AsyncIterator[str]:
            engine = self.engine(request, streamed=True)
            return drivers.arun_stream(
                engine, self.clients, self.bookkeeper, on_reply, self.watcher, self.clock
            )

        return AsyncReplyStream(start)

    # -- many prompts ------------------------------------------------------------------------------

    def map(self, items: Any, prompt: Any = None, **options: Any) -> pd.DataFrame:
        """Send one prompt per row of `items` (a list, a pandas Series or DataFrame) concurrently,
        over a shared, cached prefix; a DataFrame aligned with `items` comes back: the reply
        `text`, `status`, cache `verdict`, token columns, `hit_ratio`, `cost_usd`, `profile`,
        `error`, `calls` per row (`.attrs["report"]`: the job's `JobReport`).

        `prompt` is a template over the row's fields (`"Classify: {text}"`; `{item}` for plain
        items), a function of the row, or None when the items are the prompts. Options: `system`,
        `model`, `ttl`, `max_tokens`, `concurrency` (8), `max_wait` (the longest wait for a
        cooling-down profile, "1h"; None: no limit), `job` (an id to resume under; default: a
        hash of the inputs), `warm` (warm the cache first, True), `progress` (a progress bar,
        True), `max_calls` (per row, 20). Interrupted, it keeps what finished: the same call
        again sends only the rows not yet answered. See `api/scale.py`.
        """
        from clawdbot_nb.api.scale import run_map

        return run_map(self, items, prompt, **options)

    def batch(self, items: Any, prompt: Any = None, **options: Any) -> pd.DataFrame:
        """`map` through the Message Batches API: asynchronous, at half price. The same inputs and
        the same frame (`status` per row: succeeded, errored, canceled, expired, or processing
        with `wait=False`). The shared prefix gets a 1h breakpoint (`ttl`, default "1h") and the
        first row goes first as an ordinary call to write it. Options as `map`, plus `wait`
        (poll until every batch ended, True), `poll_every` ("30s"), `max_requests` and
        `max_bytes` per batch (the API's 100,000 and 256 MB). Batch ids are kept in the ledger:
        after a restart, the same call or `batch_results(job)` collects them. See `api/batches.py`.
        """
        from clawdbot_nb.api.batches import run_batch

        return run_batch(self, items, prompt, **options)

    def batch_results(self, job: str, **options: Any) -> pd.DataFrame:
        """The frame of a batch job from the ledger (`frame.attrs["job"]`), polling and collecting
        its batches still out (`wait=True`, `poll_every`, `progress`)."""
        from clawdbot_nb.api.batches import batch_results

        return batch_results(self, job, **options)

    # -- conversations ---------------------------------------------------------------------------

    def chat(self, name: str | None = None, **defaults: Any) -> Conversation:
        """The conversation `name` of this agent (`"default"` when None), continued by each
        `ask`/`stream`: every turn sends the earlier ones and is cached for the next. Options
        given here (system, model, ttl, max_tokens, tools, profile …) apply to every turn. It is
        kept in the ledger's file, so it survives a kernel restart (see `api/conversation.py`)."""
        from clawdbot_nb.api.conversation import Conversation

        return Conversation(self, name, self.conversation_store(), **defaults)

    def conversation_store(self) -> Any:
        """Where this agent's conversations are kept: the ledger's file, else memory."""
        if self._conversations is None:
            from clawdbot_nb.api import conversation_store

            store: Any = None
            if self._ledger is not None:
                try:
                    store = conversation_store.ConversationStore(self._ledger.path)
                except LedgerUnavailable as problem:
                    warnings.warn(
                        f"{problem} Conversations are kept in memory only.", BookkeepingWarning, stacklevel=3
                    )
            self._conversations = store or conversation_store.MemoryConversationStore()
        return self._conversations

    # -- lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the SDK clients (and their connections), the ledger, and a simulated sandbox."""
        self.clients.close()
        self.watcher.close()
        if self._ledger is not None:
            self._ledger.close()
        if self._conversations is not None:
            self._conversations.close()
        if self._sandbox is not None:
            self._sandbox()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- views -----------------------------------------------------------------------------------

    def status(self) -> StatusReport:
        """The `models status` report for this agent."""
        from clawdbot_nb.state.status import models_status

        return models_status(self.agent)

    def profiles(self) -> pd.DataFrame:
        """The agent's auth profiles with their verdicts, one row each."""
        return self.status().profiles_frame()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            if self._ledger_problem is not None:
                raise self._ledger_problem
            raise UsageError(
                "This workspace keeps no ledger (ledger=False).", fix="create it with ledger=True"
            )
        return self._ledger

    def usage(
        self, *, session_only: bool = False, since: Any = None, all_agents: bool = False
    ) -> pd.DataFrame:
        """One row per call: tokens by kind, hit ratio, cost, savings, latency, profile, cell."""
        return self.ledger.dataframe(
            since=since,
            session=current_session() if session_only else None,
            agent=None if all_agents else self.agent.agent_id,
        )

    def usage_summary(
        self, by: str | tuple[str, ...] = "model", *, session_only: bool = False
    ) -> pd.DataFrame:
        """Totals grouped `by` profile_id, model, ttl_applied, cell, … with the pooled hit ratio."""
        return self.ledger.summary(
            by=by, session=current_session() if session_only else None, agent=self.agent.agent_id
        )

    # -- the cache watch -----------------------------------------------------------------------

    def _watch(self) -> CacheWatch:
        watch = self.watcher.watch
        if watch is None:
            raise ClawdbotError(
                "The cache watch is not running in this kernel (see the warning it gave).",
                fix="restart the kernel; if the watch file is broken, move it aside: "
                f"{self._watch_file or 'none'}",
            )
        return watch

    def cache_status(self) -> pd.DataFrame:
        """The live cache entries this agent's calls wrote or refreshed, soonest to expire first:
        model, breakpoint (tools / system / message n), tokens, TTL, seconds left, hits and what
        each saved so far (net of its write premium). Shared by the agent's kernels."""
        import pandas as pd

        now = self.clock()
        rows = [
            {
                "model": e.scope.model,
                "breakpoint": e.area,
                "location": e.location,
                "tokens": e.tokens,
                "ttl": e.ttl,
                "expires_in_s": round(e.expires_at - now, 1),
                "expires_at": _utc(e.expires_at),
                "hits": e.hits,
                "saved_usd": e.saved_usd,
                "written_at": _utc(e.written_at),
                "credential_type": e.scope.credential,
            }
            for e in self._watch().entries(now)
        ]
        columns = [
            "model", "breakpoint", "location", "tokens", "ttl", "expires_in_s", "expires_at", "hits",
            "saved_usd", "written_at", "credential_type",
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def cache_timeline(self) -> pd.DataFrame:
        """Writes, hits and expiries of the agent's cache entries over time (oldest first)."""
        import pandas as pd

        rows = [
            {
                "at": _utc(e.at),
                "event": e.kind,
                "breakpoint": e.area,
                "location": e.location,
                "tokens": e.tokens,
                "ttl": e.ttl,
                "model": e.model,
                "entry": e.entry.hex()[:12],
            }
            for e in self._watch().timeline(self.clock())
        ]
        columns = ["at", "event", "breakpoint", "location", "tokens", "ttl", "model", "entry"]
        return pd.DataFrame(rows, columns=columns)

    def what_if(self) -> WhatIf:
        """This agent's recorded calls replayed under always-5m, always-1h and `ttl="auto"`,
        beside what they cost (`.frame()` for the table, `.summary()` for one line)."""
        from clawdbot_nb.api.what_if import RecordedCall, what_if

        calls = [RecordedCall.from_row(row) for row in self._watch().recorded_calls()]
        calls = [c for c in calls if c.scope.model]
        unrecorded = 0
        if self._ledger is not None:
            frame = self.usage()
            answered = frame[frame["error"].isna()] if "error" in frame else frame
            # What was paid is what the ledger recorded for each call.
            paid = dict(zip(answered["request_id"].astype(object), answered["cost_usd"], strict=True))
            calls = [dataclasses.replace(c, paid_usd=paid.get(c.request_id)) for c in calls]
            known = {c.request_id for c in calls if c.request_id}
            unrecorded = int((~answered["request_id"].isin(known)).sum()) if len(answered) else 0
        return what_if(calls, overrides=self._current_overrides(), unrecorded_calls=unrecorded)

    def totals(self, *, session_only: bool = False) -> LedgerTotals:
        return self.ledger.totals(
            session=current_session() if session_only else None, agent=self.agent.agent_id
        )
