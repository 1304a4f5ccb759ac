"""The four drivers of the call engine — sync or async, whole reply or streamed — the only code
that sends requests. Each one loops: apply the step's effects, do what the engine asks (one
attempt through the SDK), feed back the outcome. The decisions are all in `call.CallEngine`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

from clawdbot_nb.api.bookkeeping import Bookkeeper
from clawdbot_nb.api.call import Answer, CallEngine, Fail, Outcome, Send, Step, StreamFailure, Timings
from clawdbot_nb.api.clients import AttemptClock, ClientPool, attempt
from clawdbot_nb.api.clock import WALL_CLOCK, Clock
from clawdbot_nb.api.failures import describe_exception, server_wait
from clawdbot_nb.api.reply import Reply

#: The SDK refuses non-streaming calls that may run past 10 minutes (3600 s x max_tokens / 128k):
#: above this, a whole reply is read through a stream.
NON_STREAMING_MAX_TOKENS = 21_333


def _settle(step: Step, bookkeeper: Bookkeeper) -> Send | None:
    """Apply the step's effects; the next attempt to make, None when the call is done."""
    bookkeeper.apply(step.effects)
    if isinstance(step.action, Fail):
        raise step.action.error
    return step.action if isinstance(step.action, Send) else None


def _timings(engine: CallEngine, clock: AttemptClock, first_text: float | None) -> Timings:
    return Timings(engine.request.started, tuple(clock.sends), first_text, time.perf_counter())


def _watch(watch: Any, send: Send, clock: AttemptClock) -> Any:
    """Tell the cache watch (`cache_calls.CallWatcher`, or None) an attempt is going out; its
    ticket, whose response is noted when its headers arrive."""
    ticket = watch.sending(send) if watch is not None else None
    clock.on_response = None if ticket is None else (lambda headers: watch.responded(ticket, headers))
    return ticket


def _answer(
    watch: Any, ticket: Any, message: Any, request_id: str | None, timings: Timings, headers: Any
) -> Answer:
    cache = watch.answered(ticket, message, request_id) if ticket is not None else None
    return Answer(message, request_id, timings, cache, server_wait(headers))


def _failed(watch: Any, ticket: Any) -> None:
    if ticket is not None:
        watch.failed(ticket)


def _text_delta(event: Any) -> str | None:
    if event.type == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta":
        return event.delta.text
    return None


# -- one attempt -----------------------------------------------------------------------------------


def _whole(
    send: Send,
    engine: CallEngine,
    pool: ClientPool,
    clock: AttemptClock,
    watch: Any = None,
    wait: Clock = WALL_CLOCK,
) -> Outcome:
    wait.sleep(send.delay_s)
    params = send.plan.params
    ticket = _watch(watch, send, clock)
    try:
        with attempt(clock):
            client = pool.get(send.candidate, send.fail_fast)
            if params["max_tokens"] > NON_STREAMING_MAX_TOKENS:
                with client.messages.stream(**params) as stream:
                    message, request_id = stream.get_final_message(), stream.request_id
            else:
                message, request_id = client.messages.create(**params), None
    except Exception as error:
        _failed(watch, ticket)
        return describe_exception(error)
    return _answer(watch, ticket, message, request_id, _timings(engine, clock, None), clock.headers)


async def _awhole(
    send: Send,
    engine: CallEngine,
    pool: ClientPool,
    clock: AttemptClock,
    watch: Any = None,
    wait: Clock = WALL_CLOCK,
) -> Outcome:
    await wait.asleep(send.delay_s)
    params = send.plan.params
    ticket = _watch(watch, send, clock)
    try:
        with attempt(clock):
            client = await pool.aget(send.candidate, send.fail_fast)
            if params["max_tokens"] > NON_STREAMING_MAX_TOKENS:
                async with client.messages.stream(**params) as stream:
                    message, request_id = await stream.get_final_message(), stream.request_id
            else:
                message, request_id = await client.messages.create(**params), None
    except Exception as error:
        _failed(watch, ticket)
        return describe_exception(error)
    return _answer(watch, ticket, message, request_id, _timings(engine, clock, None), clock.headers)


def _streamed(
    send: Send,
    engine: CallEngine,
    pool: ClientPool,
    clock: AttemptClock,
    watch: Any = None,
    wait: Clock = WALL_CLOCK,
) -> Generator[str, None, Outcome]:
    wait.sleep(send.delay_s)
    ticket = _watch(watch, send, clock)
    try:
        with attempt(clock):
            manager = pool.get(send.candidate, send.fail_fast).messages.stream(**send.plan.params)
            stream = manager.__enter__()
    except Exception as error:
        _failed(watch, ticket)
        return describe_exception(error)
    first_text = None
    try:
        for event in stream:
            text = _text_delta(event)
            if text:
                first_text = first_text or time.perf_counter()
                yield text
        message = stream.get_final_message()
    except Exception as error:
        _failed(watch, ticket)
        return StreamFailure(describe_exception(error), after_text=first_text is not None)
    finally:
        manager.__exit__(None, None, None)
    return _answer(
        watch, ticket, message, stream.request_id, _timings(engine, clock, first_text), clock.headers
    )


async def _astreamed(
    send: Send,
    engine: CallEngine,
    pool: ClientPool,
    clock: AttemptClock,
    outcome: list[Outcome],
    watch: Any,
    wait: Clock,
) -> AsyncIterator[str]:
    await wait.asleep(send.delay_s)
    ticket = _watch(watch, send, clock)
    try:
        with attempt(clock):
            manager = (await pool.aget(send.candidate, send.fail_fast)).messages.stream(**send.plan.params)
            stream = await manager.__aenter__()
    except Exception as error:
        _failed(watch, ticket)
        outcome.append(describe_exception(error))
        return
    first_text = None
    try:
        async for event in stream:
            text = _text_delta(event)
            if text:
                first_text = first_text or time.perf_counter()
                yield text
        message = await stream.get_final_message()
    except Exception as error:
        _failed(watch, ticket)
        outcome.append(StreamFailure(describe_exception(error), after_text=first_text is not None))
        return
    finally:
        await manager.__aexit__(None, None, None)
    outcome.append(
        _answer(watch, ticket, message, stream.request_id, _timings(engine, clock, first_text), clock.headers)
    )


# -- the four drivers ------------------------------------------------------------------------------


# `watch` (a `cache_calls.CallWatcher`, or None) follows each attempt for the cache watch;
# `wait` is the workspace's clock: a resend's backoff sleeps on it (virtual time in a simulation).


def run(
    engine: CallEngine, pool: ClientPool, bookkeeper: Bookkeeper, watch: Any = None, wait: Clock = WALL_CLOCK
) -> Reply:
    step, clock = engine.start(), AttemptClock()
    while (send := _settle(step, bookkeeper)) is not None:
        step = engine.feed(_whole(send, engine, pool, clock, watch, wait))
    return step.action.reply  # type: ignore[union-attr]


async def arun(
    engine: CallEngine, pool: ClientPool, bookkeeper: Bookkeeper, watch: Any = None, wait: Clock = WALL_CLOCK
) -> Reply:
    step, clock = engine.start(), AttemptClock()
    while (send := _settle(step, bookkeeper)) is not None:
        step = engine.feed(await _awhole(send, engine, pool, clock, watch, wait))
    return step.action.reply  # type: ignore[union-attr]


def run_stream(
    engine: CallEngine, pool: ClientPool, bookkeeper: Bookkeeper, watch: Any = None, wait: Clock = WALL_CLOCK
) -> Generator[str, None, Reply]:
    step, clock = engine.start(), AttemptClock()
    while (send := _settle(step, bookkeeper)) is not None:
        step = engine.feed((yield from _streamed(send, engine, pool, clock, watch, wait)))
    return step.action.reply  # type: ignore[union-attr]


async def arun_stream(
    engine: CallEngine,
    pool: ClientPool,
    bookkeeper: Bookkeeper,
    on_reply: Callable[[Reply], None],
    watch: Any = None,
    wait: Clock = WALL_CLOCK,
) -> AsyncIterator[str]:
    step, clock = engine.start(), AttemptClock()
    while (send := _settle(step, bookkeeper)) is not None:
        outcome: list[Outcome] = []
        async for text in _astreamed(send, engine, pool, clock, outcome, watch, wait):
            yield text
        step = engine.feed(outcome[0])
    on_reply(step.action.reply)  # type: ignore[union-attr]
