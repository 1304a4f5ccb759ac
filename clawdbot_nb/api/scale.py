"""`Workspace.map`: many prompts over a shared prefix, concurrently, through the call engine.

    frame = ws.map(tickets, "Classify this ticket: {text}", system=instructions, ttl="1h")

- Warms the cache first: each profile's first row goes alone, streamed, and the rows after it
  go once its reply has begun (when its cache write became visible), so N rows over a shared
  prefix cost 1 write and N-1 reads instead of a write per row of the first wave.
- Runs `concurrency` calls at once on threads, spread over the agent's usable profiles (each
  row prefers the least busy one; the engine still fails over inside the call). A row's call
  fails fast (`CallRequest.scheduled`): when every profile is cooling down, or the server said
  when to come back (`retry-after`, an exhausted `anthropic-ratelimit-*`), the map waits for the
  first profile to come back — a countdown on the progress bar — and sends the row again, up to
  `max_wait` per wait. A row that cannot succeed (400, unknown model) is reported and the rest go on.
- Resumable: every call is in the ledger with the job id and the row's key, and every answered
  row's text with the job (`ledger/jobs.py`); an interrupt keeps what finished, and running the
  same map again (same inputs, or the same `job=`) sends only the rows not yet answered.
"""

from __future__ import annotations

import dataclasses
import queue
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api import drivers, scheduling
from clawdbot_nb.api.call import CallRequest
from clawdbot_nb.api.job_inputs import JobRow
from clawdbot_nb.api.job_results import (
    JobReport,
    RowResult,
    failed,
    from_reply,
    pooled_hit_ratio,
    results_frame,
    rewrite_cost,
    total_cost,
)
from clawdbot_nb.api.job_start import start_job
from clawdbot_nb.api.ledger import jobs
from clawdbot_nb.api.progress import JobProgress
from clawdbot_nb.errors import ClawdbotError, NoAvailableProfileError, UsageError
from clawdbot_nb.state.durations import format_remaining, parse_duration_ms
from clawdbot_nb.state.selection import profile_order

if TYPE_CHECKING:
    import pandas as pd

    from clawdbot_nb.api.reply import Reply
    from clawdbot_nb.api.workspace import Workspace

DEFAULT_CONCURRENCY = 8
#: The longest single wait for a profile: the cooldown cap, so a rate-limit cooldown is always
#: waited out (a billing disable, 5 h and more, is not).
DEFAULT_MAX_WAIT = "1h"
#: Calls one row may take before it is reported as failed (errors are not billed).
DEFAULT_MAX_CALLS = 20
_TICK_S = 0.1  # how often the countdown and an interrupt are looked at while waiting for calls


def parse_max_wait(value: str | float | int | None) -> int | None:
    """Milliseconds from `"10m"`, `"1h"`, seconds, or None (wait as long as it takes)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise UsageError(f"max_wait must be a duration, got {value!r}.", fix='e.g. max_wait="30m"')
    if isinstance(value, int | float):
        if value < 0:
            raise UsageError(f"max_wait must not be negative, got {value!r}.", fix='e.g. max_wait="30m"')
        return int(value * 1000)
    if str(value).strip() in ("0", "0s", "0m"):
        return 0
    return parse_duration_ms(str(value), default_unit="s", argument="max_wait")


def _check_concurrency(concurrency: int) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise UsageError(
            f"concurrency must be a whole number of at least 1, got {concurrency!r}.",
            fix="e.g. concurrency=8",
        )
    return concurrency


class MapRun:
    """One run of a map job: the scheduler loop (main thread) and its worker threads."""

    def __init__(
        self,
        workspace: Workspace,
        template: CallRequest,
        rows: list[JobRow],
        *,
        job: str,
        concurrency: int,
        max_wait_ms: int | None,
        max_calls: int,
        warm: bool,
        progress: JobProgress,
        results: dict[str, RowResult],
    ) -> None:
        self.ws = workspace
        self.template = template
        self.job = job
        self.clock = workspace.clock
        self.concurrency = concurrency
        self.max_wait_ms = max_wait_ms
        self.max_calls = max_calls
        self.progress = progress
        self.results = results
        self.ledger = workspace._ledger
        self.pending: deque[JobRow] = deque(rows)
        self.in_flight: dict[str, str | None] = {}  # row key → preferred profile
        self.futures: dict[str, Future[None]] = {}
        self.busy: dict[str | None, int] = {}
        self.held: dict[str | None, int] = {}
        self.sent: dict[str | None, int] = {}
        self.warm: set[str | None] | None = set() if warm and (template.system or template.tools) else None
        self.warming: set[str | None] = set()
        self.calls: dict[str, int] = {}
        self.events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self.overrides = workspace._price_overrides(template.config or workspace.agent.config())
        # What the report adds up.
        self.total_calls = self.failed_attempts = self.waits = 0
        self.waited_ms = 0
        self.extra_cost = 0.0
        self.prefix_written = False
        # Running totals for the progress bar (rows from an earlier run included).
        done = list(results.values())
        self.read_tokens = sum(r.usage.cache_read_tokens for r in done if r.usage is not None)
        self.prompt_tokens = sum(r.usage.prompt_tokens for r in done if r.usage is not None)
        self.cost = total_cost(done)
        self.last_unavailable: ClawdbotError | None = None

    # -- workers -------------------------------------------------------------------------------

    def _request(self, row: JobRow, profile: str | None) -> CallRequest:
        return dataclasses.replace(
            self.template,
            messages=[{"role": "user", "content": row.prompt}],
            job=self.job,
            row_key=row.key,
            prefer=profile,
            scheduled=True,
            started=time.perf_counter(),
        )

    def _work(self, row: JobRow, profile: str | None, warm_up: bool) -> None:
        ws = self.ws
        try:
            request = self._request(row, profile)
            if warm_up:
                engine = ws.engine(request, streamed=True)
                chunks = drivers.run_stream(engine, ws.clients, ws.bookkeeper, ws.watcher, ws.clock)
                begun = False
                while True:
                    try:
                        next(chunks)
                    except StopIteration as stop:
                        reply: Reply = stop.value
                        break
                    if not begun:
                        begun = True
                        self.events.put(("begun", row, profile, engine.current_profile))
            else:
                reply = drivers.run(
                    ws.engine(request, streamed=False), ws.clients, ws.bookkeeper, ws.watcher, ws.clock
                )
            if self.ledger is not None:
                # Here, not in the scheduler: an interrupt of the main thread must not lose it.
                jobs.finish_rows(self.ledger, self.job, [(row.key, "succeeded", reply.text, None)])
            self.events.put(("done", row, profile, warm_up, reply, None))
        except BaseException as error:
            self.events.put(("done", row, profile, warm_up, None, error))

    # -- the scheduler -------------------------------------------------------------------------

    def _available(self) -> list[str | None] | None:
        """The usable profiles now (engine order); None when the job cannot go on at all."""
        try:
            return [c.label for c in self.ws.candidates(self.template)]
        except NoAvailableProfileError as error:
            self.last_unavailable = error
            return []
        except ClawdbotError as error:  # no credentials at all: no row can be answered
            self._fail_pending(str(error))
            return None

    def _dispatch(self, executor: ThreadPoolExecutor) -> None:
        while self.pending and len(self.in_flight) < self.concurrency:
            available = self._available()
            if not available:
                return
            choice = scheduling.pick_profile(
                available,
                now_ms=self.clock.now_ms(),
                in_flight=self.busy,
                held_until=self.held,
                warm=self.warm,
                warming=self.warming,
                sent=self.sent,
            )
            if choice is None:
                return
            profile, warm_up = choice
            row = self.pending.popleft()
            self.in_flight[row.key] = profile
            self.busy[profile] = self.busy.get(profile, 0) + 1
            self.sent[profile] = self.sent.get(profile, 0) + 1
            if warm_up:
                self.warming.add(profile)
            self.futures[row.key] = executor.submit(self._work, row, profile, warm_up)

    def _finish(self, result: RowResult, *, store: bool = True) -> None:
        self.results[result.key] = result
        if store and self.ledger is not None and not result.answered:
            jobs.finish_rows(self.ledger, self.job, [(result.key, result.status, None, result.error)])
        if result.usage is not None:
            self.read_tokens += result.usage.cache_read_tokens
            self.prompt_tokens += result.usage.prompt_tokens
            self.cost += result.cost_usd
        ratio = self.read_tokens / self.prompt_tokens if self.prompt_tokens else float("nan")
        self.progress.advance(1, hit_ratio=ratio, cost_usd=self.cost)

    def _fail_pending(self, message: str) -> None:
        while self.pending:
            row = self.pending.popleft()
            self._finish(failed(row.key, message, calls=self.calls.get(row.key, 0)))

    def _handle(self, event: tuple[Any, ...]) -> None:
        if event[0] == "begun":
            _, row, preferred, actual = event
            self.warming.discard(preferred)
            if self.warm is not None:
                self.warm.add(actual)
            return
        _, row, preferred, warm_up, reply, error = event
        self.in_flight.pop(row.key, None)
        self.futures.pop(row.key, None)
        self.busy[preferred] = self.busy.get(preferred, 1) - 1
        self.warming.discard(preferred)
        now = self.clock.now_ms()
        if error is None:
            self.total_calls += 1
            calls = self.calls.get(row.key, 0) + 1
            self.failed_attempts += len(reply.attempts)
            self._hold(scheduling.holds_after(reply.attempts, now))
            if reply.server_wait is not None:
                self._hold({reply.profile: reply.server_wait.until_ms(now)})
            if self.warm is not None:
                self.warm.add(reply.profile)
            written = reply.usage.cache_write_5m_tokens + reply.usage.cache_write_1h_tokens
            if written and not warm_up and self.prefix_written:
                # A row that should have read the prefix wrote it again (it expired during a
                # wait, or rows raced without a warm-up): that difference is what faults cost.
                self.extra_cost += rewrite_cost(self.template.model, reply.usage, overrides=self.overrides)
            self.prefix_written = self.prefix_written or bool(written)
            self._finish(from_reply(row.key, reply, calls), store=False)
            return
        if not isinstance(error, ClawdbotError):
            raise error  # a bug, not an outcome: stop the job (what finished is kept)
        if scheduling.called(error):
            self.total_calls += 1
            self.calls[row.key] = self.calls.get(row.key, 0) + 1
        attempts = getattr(error, "attempts", ())
        self.failed_attempts += len(attempts)
        self._hold(scheduling.holds_after(attempts, now))
        outcome = scheduling.outcome_of(error)
        calls = self.calls.get(row.key, 0)
        if outcome == scheduling.RETRY and calls < self.max_calls:
            self.pending.appendleft(row)
            return
        message = str(error)
        if outcome == scheduling.RETRY:
            message = f"gave up after {calls} calls: {message}"
        self._finish(failed(row.key, message, calls=calls))
        if outcome == scheduling.JOB:
            self._fail_pending(message)

    def _hold(self, holds: dict[str, int]) -> None:
        for profile, until in holds.items():
            if until > self.held.get(profile, 0):
                self.held[profile] = until

    def _wait_for_a_profile(self) -> None:
        """Nothing can be sent and nothing is in flight: wait for the first profile to come back
        (within max_wait), or fail the rows left."""
        agent = self.ws.agent
        config = self.template.config or agent.config()
        store = agent.load_store(config=config)
        now = self.clock.now_ms()
        order = profile_order(store, config, "anthropic", now, self.ws.bookkeeper.recent.snapshot())
        until = {pid: store.stats(pid).unusable_until() for pid in order.ordered}
        back = scheduling.first_back_at(order.ordered, until, self.held, now)
        if back is None:
            reason = str(self.last_unavailable) if self.last_unavailable else "no profile can be used"
            self._fail_pending(reason)
            return
        profile, at = back
        if self.max_wait_ms is not None and at - now > self.max_wait_ms:
            base = str(self.last_unavailable) if self.last_unavailable else "Every profile is held back."
            later = format_remaining(at - now)
            self._fail_pending(f"{base} Not waiting: {profile} is back in {later}, longer than max_wait.")
            return
        self.waits += 1
        started = now
        while (now := self.clock.now_ms()) < at:
            self.progress.waiting(at - now, f"for {profile}")
            step = at if self.clock.virtual else min(at, now + 1000)
            self.clock.sleep_until(step)
        self.waited_ms += self.clock.now_ms() - started
        self.progress.resume()

    def run(self) -> None:
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="clawdbot-map")
        try:
            while self.pending or self.in_flight:
                self._dispatch(executor)
                if not self.in_flight:
                    if self.pending:
                        self._wait_for_a_profile()
                    continue
                try:
                    event = self.events.get(timeout=_TICK_S)
                except queue.Empty:
                    continue
                self._handle(event)
                while True:  # everything else that is in, before dispatching again
                    try:
                        self._handle(self.events.get_nowait())
                    except queue.Empty:
                        break
        except KeyboardInterrupt:
            self._drain_after_interrupt()
            raise
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    def _drain_after_interrupt(self) -> None:
        """Keep what is paid for: wait for the calls in flight (a second interrupt abandons them)."""
        answered = sum(r.answered for r in self.results.values())
        self.progress.note(
            f"Interrupted: {answered} rows answered are kept (job {self.job}); waiting for the "
            f"{len(self.in_flight)} calls in flight. Run the same map again to send the rest."
        )
        self.pending.clear()
        try:
            # The workers still running (an interrupt may land anywhere, even between a submit
            # and its bookkeeping here), then whatever they reported.
            while any(not future.done() for future in self.futures.values()):
                try:
                    self._handle(self.events.get(timeout=_TICK_S))
                except queue.Empty:
                    continue
            while True:
                self._handle(self.events.get_nowait())
        except (queue.Empty, KeyboardInterrupt):
            pass
        finally:
            self.pending.clear()  # nothing is sent again after an interrupt


def run_map(
    workspace: Workspace,
    items: Any,
    prompt: str | Callable[[Any], Any] | None = None,
    *,
    system: str | list[dict[str, Any]] | None = None,
    model: str | None = None,
    ttl: str | None = None,
    max_tokens: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_wait: str | float | None = DEFAULT_MAX_WAIT,
    job: str | None = None,
    warm: bool = True,
    progress: bool = True,
    max_calls: int = DEFAULT_MAX_CALLS,
    **options: Any,
) -> pd.DataFrame:
    """See `Workspace.map`."""
    concurrency = _check_concurrency(concurrency)
    max_wait_ms = parse_max_wait(max_wait)
    start = start_job(
        workspace,
        "map",
        items,
        prompt,
        job=job,
        system=system,
        model=model,
        ttl=ttl,
        max_tokens=max_tokens,
        options=options,
    )
    inputs, template, job, results = start.inputs, start.template, start.job, start.results
    todo = [r for r in inputs.rows if r.key not in results and r.prompt is not None]
    bar = JobProgress(
        total=len(inputs.rows), initial=len(results), description=f"map {job}", enabled=progress
    )
    run = MapRun(
        workspace,
        template,
        todo,
        job=job,
        concurrency=concurrency,
        max_wait_ms=max_wait_ms,
        max_calls=max_calls,
        warm=warm,
        progress=bar,
        results=results,
    )
    try:
        for row in inputs.rows:
            if row.prompt is None:
                run._finish(failed(row.key, f"Row {row.label!r}: {row.problem}."))
        run.run()
    finally:
        bar.close()
    frame = results_frame(inputs.rows, inputs.index, results, job=job)
    done = list(results.values())
    frame.attrs["report"] = JobReport(
        job=job,
        kind="map",
        rows=len(inputs.rows),
        succeeded=sum(r.answered for r in done),
        failed=sum(not r.answered for r in done),
        resumed=sum(r.resumed for r in done),
        calls=run.total_calls,
        failed_attempts=run.failed_attempts,
        waits=run.waits,
        waited_s=run.waited_ms / 1000,
        cost_usd=total_cost(done),
        hit_ratio=pooled_hit_ratio(done),
        extra_cost_from_faults_usd=run.extra_cost,
    )
    return frame
