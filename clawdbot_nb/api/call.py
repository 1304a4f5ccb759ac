"""One call to the Messages API as a pure state machine: the only failover policy.

The engine knows nothing of the SDK, files or time passing: a driver (`drivers.py`, sync or
async, whole or streamed) asks it what to do, does it, and feeds back what happened.

    engine = CallEngine(request, candidates, plan=..., agent_id=..., streamed=False)
    step = engine.start()           # Send(candidate, plan, fail_fast) — or Fail(error)
    step = engine.feed(outcome)     # outcome: Answer, or the Failure of the attempt
    ...                             # until step.action is Finish(reply) or Fail(error)

Every step carries its effects, in the order they happened: `MarkFailure` (cool the profile
down), `MarkSuccess`, `Record` (the call's ledger row). The driver has the bookkeeper apply them
before it acts, so the next attempt — in this process or another — already sees them.

The policy, decided from the `Failure` alone:
- a bad request (400, 404, 413 …, or a `format` failure) or an unreachable host ends the call at
  once: another profile would fail the same way, and nothing is cooled down;
- any other failure before text arrived (rate_limit, billing, auth, timeout, unknown, a
  dropped connection) cools the profile down and moves to the next candidate; while another
  one follows, the attempt runs with `fail_fast` (the SDK must not sleep and retry on a profile
  we can leave); the last candidate keeps the SDK's own retries;
- a failure inside a stream before its first text, on the last candidate, is what the SDK would
  have retried had it come before the response began: the same profile is sent to again, up to
  `max_resends` times, with the SDK's backoff, before the profile is cooled down;
- a failure after text was shown ends the call as incomplete (the profile cools down);
- a call a scheduler sends again later (`CallRequest.scheduled`: a row of `Workspace.map`) fails
  fast on every profile, the last one included, and never resends: the scheduler waits for a
  profile to come back instead of the SDK sleeping inside the call.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clawdbot_nb.api.failures import Failure, exhausted_error, interrupted_error, request_error
from clawdbot_nb.api.ledger.rows import LedgerRow, build_row
from clawdbot_nb.api.planner import CachePlan
from clawdbot_nb.api.pricing import compute_cost
from clawdbot_nb.api.reply import Attempt, Reply
from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.selection import AuthCandidate


def wall_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


@dataclass
class CallRequest:
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
    #: Mark the last user turn for caching: None when the call continues a conversation
    #: (the planner decides), True always, False never.
    cache_last_turn: bool | None = None
    #: The conversation (`Workspace.chat`) this call is a turn of, for the ledger.
    conversation: str | None = None
    #: The config this call was validated against (one read per call).
    config: ClawdbotConfig | None = field(default=None, repr=False, compare=False)
    #: perf_counter when the call began (before validation), for `setup_s`.
    started: float = 0.0
    #: A map or batch job's id and this row's key, recorded with the call in the ledger.
    job: str | None = None
    row_key: str | None = None
    #: Put this profile first when it is usable (a scheduler spreading rows over profiles).
    prefer: str | None = None
    #: A scheduler (`scale.py`) sends the call again later if it fails: no attempt waits inside
    #: the SDK or resends a stream; every profile fails fast and the call fails when all did.
    scheduled: bool = False


# -- what the engine asks for ----------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send the planned request with this candidate's credential."""

    candidate: AuthCandidate
    plan: CachePlan
    fail_fast: bool
    delay_s: float = 0.0  # wait this long first (a resend's backoff)


@dataclass(frozen=True)
class Finish:
    reply: Reply


@dataclass(frozen=True)
class Fail:
    error: ClawdbotError


# -- what it emits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkFailure:
    profile_id: str
    reason: str
    at_ms: int


@dataclass(frozen=True)
class MarkSuccess:
    profile_id: str
    at_ms: int


@dataclass(frozen=True)
class Record:
    row: LedgerRow


Effect = MarkFailure | MarkSuccess | Record


@dataclass(frozen=True)
class Step:
    action: Send | Finish | Fail
    effects: tuple[Effect, ...] = ()


# -- what a driver reports -----------------------------------------------------------------------


@dataclass(frozen=True)
class Timings:
    """perf_counter moments of a call: its start, every HTTP attempt's start (the last one is
    the successful exchange), the first text of a stream, and the last byte."""

    started: float
    sends: Sequence[float]
    first_text: float | None
    finished: float


@dataclass(frozen=True)
class Answer:
    message: Any  # the SDK's Message: .content, .usage, .stop_reason
    request_id: str | None
    timings: Timings
    #: What the cache watch made of it (`cache_watch.CallReport`), when it follows the call.
    cache: Any = None
    #: What the response's headers said about waiting (`failures.ServerWait`), if anything.
    wait: Any = None


@dataclass(frozen=True)
class StreamFailure:
    """A stream that broke after its response began; `after_text` once text was shown."""

    failure: Failure
    after_text: bool


Outcome = Answer | Failure | StreamFailure


def resend_backoff_s(resend: int, jitter: float | None = None) -> float:
    """The SDK's retry delay for its n-th retry: min(0.5 × 2ⁿ⁻¹, 8) s × jitter in [0.75, 1]."""
    jitter = 1 - 0.25 * random.random() if jitter is None else jitter
    return min(0.5 * 2 ** (resend - 1), 8.0) * jitter


def message_text(message: Any) -> str:
    return "".join(getattr(block, "text", "") for block in message.content if block.type == "text")


class CallEngine:
    """The decisions of one call. Not thread-safe: one driver feeds one engine."""

    def __init__(
        self,
        request: CallRequest,
        candidates: Sequence[AuthCandidate] | ClawdbotError,
        *,
        plan: Callable[[AuthCandidate], CachePlan],
        agent_id: str,
        streamed: bool,
        price_overrides: Any = None,
        max_resends: int = 2,
        clock: Callable[[], int] = wall_ms,
        backoff: Callable[[int], float] = resend_backoff_s,
    ) -> None:
        self.request = request
        self.agent_id = agent_id
        self.streamed = streamed
        self.attempts: list[Attempt] = []
        self._refused = candidates if isinstance(candidates, ClawdbotError) else None
        self._candidates = [] if self._refused is not None else list(candidates)
        self._plan_for = plan
        self._overrides = price_overrides
        self._max_resends = max_resends
        self._clock = clock
        self._backoff = backoff
        self._index = 0
        self._resends = 0
        self._current: Send | None = None
        self._last: Failure | None = None

    @property
    def current_profile(self) -> str | None:
        """The profile (label) of the attempt under way; None before `start()`."""
        return None if self._current is None else self._current.candidate.label

    # -- steps ---------------------------------------------------------------------------------

    def start(self) -> Step:
        if self._refused is not None:
            return self._fail(self._refused, [])
        return Step(self._send())

    def feed(self, outcome: Outcome) -> Step:
        if isinstance(outcome, Answer):
            return self._answered(outcome)
        if isinstance(outcome, StreamFailure):
            return self._failed(outcome.failure, in_stream=True, after_text=outcome.after_text)
        return self._failed(outcome, in_stream=False, after_text=False)

    # -- policy --------------------------------------------------------------------------------

    def _send(self, delay_s: float = 0.0) -> Send:
        candidate = self._candidates[self._index]
        plan = self._current.plan if self._current and self._current.candidate is candidate else None
        more = self._index < len(self._candidates) - 1 or self.request.scheduled
        self._current = Send(candidate, plan or self._plan_for(candidate), fail_fast=more, delay_s=delay_s)
        return self._current

    def _failed(self, failure: Failure, *, in_stream: bool, after_text: bool) -> Step:
        assert self._current is not None, "feed() before start()"
        candidate = self._current.candidate
        self.attempts.append(
            Attempt(candidate.label, failure.reason, failure.status, failure.message, failure.wait)
        )
        mark: list[Effect] = []
        if failure.reason is not None and candidate.profile_id is not None:
            mark.append(MarkFailure(candidate.profile_id, failure.reason, self._clock()))
        if after_text:
            return self._fail(interrupted_error(candidate.label, failure), mark)
        if failure.unreachable or failure.reason in (None, "format"):
            return self._fail(request_error(failure), [])
        last = self._index == len(self._candidates) - 1
        resend = in_stream and last and failure.retryable and not self.request.scheduled
        if resend and self._resends < self._max_resends:
            self._resends += 1
            return Step(self._send(self._backoff(self._resends)))
        self._last = failure
        if not last:
            self._index += 1
            self._resends = 0
            return Step(self._send(), tuple(mark))
        return self._fail(
            exhausted_error(self.attempts, failure, candidate.label, candidate.credential.type), mark
        )

    def _answered(self, answer: Answer) -> Step:
        assert self._current is not None, "feed() before start()"
        candidate, plan = self._current.candidate, self._current.plan
        request = self.request
        at = self._clock()
        timings = answer.timings
        sends = list(timings.sends) or [timings.started]
        exchange_start = sends[-1]
        message = answer.message
        cost = compute_cost(request.model, message.usage, overrides=self._overrides)
        why_miss = getattr(answer.cache, "why_miss", None)
        reply = Reply(
            text=message_text(message),
            model=request.model,
            agent=self.agent_id,
            profile=candidate.label,
            credential_type=candidate.credential.type,
            raw_usage=message.usage,
            plan=plan,
            latency_s=timings.finished - exchange_start,
            ttft_s=None if timings.first_text is None else timings.first_text - exchange_start,
            setup_s=max(0.0, sends[0] - timings.started),
            attempts_s=exchange_start - sends[0],
            request_id=answer.request_id or getattr(message, "_request_id", None),
            stop_reason=message.stop_reason,
            finished_at=datetime.fromtimestamp(at / 1000, tz=UTC),
            attempts=tuple(self.attempts),
            streamed=self.streamed,
            message=message,
            price_overrides=self._overrides,
            precomputed_cost=cost,
            why_miss=why_miss,
            server_wait=answer.wait,
        )
        effects: list[Effect] = []
        if candidate.profile_id is not None:
            effects.append(MarkSuccess(candidate.profile_id, at))
        effects.append(
            Record(
                build_row(
                    model=request.model,
                    usage=message.usage,
                    cost=cost,
                    agent=self.agent_id,
                    profile_id=candidate.label,
                    credential_type=candidate.credential.type,
                    ttl_requested=plan.ttl_requested,
                    ttl_applied=plan.ttl_applied,
                    ttl_note=plan.ttl_note,
                    why_miss=why_miss.summary if why_miss is not None else None,
                    breakpoints=len(plan.breakpoints),
                    latency_s=reply.latency_s,
                    ttft_s=reply.ttft_s,
                    setup_s=reply.setup_s,
                    attempts_s=reply.attempts_s,
                    stop_reason=message.stop_reason,
                    request_id=reply.request_id,
                    cell=request.cell,
                    conversation=request.conversation,
                    stream=self.streamed,
                    attempts=len(self.attempts) + 1,
                    profiles_tried=[*(a.profile for a in self.attempts), candidate.label],
                    time_ms=at,
                    job=request.job,
                    row_key=request.row_key,
                )
            )
        )
        return Step(Finish(reply), tuple(effects))

    def _fail(self, error: ClawdbotError, effects: list[Effect]) -> Step:
        request = self.request
        row = build_row(
            model=request.model,
            agent=self.agent_id,
            error=str(error),
            ttl_requested=request.ttl,
            cell=request.cell,
            conversation=request.conversation,
            stream=self.streamed,
            attempts=max(1, len(self.attempts)),
            profiles_tried=[a.profile for a in self.attempts],
            time_ms=self._clock(),
            job=request.job,
            row_key=request.row_key,
        )
        return Step(Fail(error), (*effects, Record(row)))
