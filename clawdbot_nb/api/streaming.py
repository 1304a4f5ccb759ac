"""Streamed replies: the text as it arrives, then the full `Reply`, with failover until the first text.

`Workspace.stream` / `Workspace.astream` return these. A profile that fails before any text
arrives is failed over like in `ask`; once text has been shown, a failure ends the call with
an error that says the reply is incomplete.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api.failover import Failover

if TYPE_CHECKING:
    from clawdbot_nb.api.reply import Reply
    from clawdbot_nb.api.workspace import Request, Workspace


def _text_delta(event: Any) -> str | None:
    if event.type == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta":
        return event.delta.text
    return None


class ReplyStream:
    """The text of a streamed reply as it arrives; the full `Reply` in `.reply` at the end."""

    def __init__(self, workspace: Workspace, request: Request) -> None:
        self.workspace = workspace
        self.request = request
        self.reply: Reply | None = None
        self._iterator: Iterator[str] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    @property
    def text_stream(self) -> Iterator[str]:
        return iter(self)

    def until_done(self) -> Reply:
        for _ in self:
            pass
        assert self.reply is not None
        return self.reply

    def __enter__(self) -> ReplyStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._iterator is not None:
            self._iterator.close()  # type: ignore[attr-defined]

    def _run(self) -> Iterator[str]:
        ws, request = self.workspace, self.request
        failover: Failover | None = None
        try:
            failover = Failover(ws._candidates(request), ws._mark_failure)
            for candidate in failover:
                plan = ws.plan(request, candidate)
                started = time.perf_counter()
                ttft = None
                try:
                    client = ws._client(candidate, asynchronous=False, fail_fast=failover.more)
                    manager = client.messages.stream(**plan.params)
                    stream = manager.__enter__()
                except Exception as error:
                    failover.failed(candidate, error)
                    continue
                try:
                    events = iter(stream)
                    pending: list[str] = []
                    # Until the first text arrives, a failure can still move to the next profile.
                    try:
                        for event in events:
                            text = _text_delta(event)
                            if text:
                                ttft = time.perf_counter() - started
                                pending.append(text)
                                break
                    except Exception as error:
                        failover.failed(candidate, error)
                        continue
                    yield from pending
                    try:
                        for event in events:
                            text = _text_delta(event)
                            if text:
                                yield text
                        message = stream.get_final_message()
                    except Exception as error:
                        raise failover.interrupted(candidate, error) from error
                finally:
                    manager.__exit__(None, None, None)
                self.reply = ws._reply(
                    request, candidate, plan, message, failover, started, ttft, True, stream.request_id
                )
                return
            raise failover.exhausted()
        except GeneratorExit:
            raise
        except Exception as error:
            ws._record_error(request, error, failover, streamed=True)
            raise


class AsyncReplyStream:
    """`ReplyStream` for `async for`."""

    def __init__(self, workspace: Workspace, request: Request) -> None:
        self.workspace = workspace
        self.request = request
        self.reply: Reply | None = None
        self._iterator: AsyncIterator[str] | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    async def until_done(self) -> Reply:
        async for _ in self:
            pass
        assert self.reply is not None
        return self.reply

    async def __aenter__(self) -> AsyncReplyStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]

    async def _run(self) -> AsyncIterator[str]:
        ws, request = self.workspace, self.request
        failover: Failover | None = None
        try:
            failover = Failover(ws._candidates(request), ws._mark_failure)
            for candidate in failover:
                plan = ws.plan(request, candidate)
                started = time.perf_counter()
                ttft = None
                try:
                    client = ws._client(candidate, asynchronous=True, fail_fast=failover.more)
                    manager = client.messages.stream(**plan.params)
                    stream = await manager.__aenter__()
                except Exception as error:
                    failover.failed(candidate, error)
                    continue
                try:
                    events = stream.__aiter__()
                    pending: list[str] = []
                    try:
                        async for event in events:
                            text = _text_delta(event)
                            if text:
                                ttft = time.perf_counter() - started
                                pending.append(text)
                                break
                    except Exception as error:
                        failover.failed(candidate, error)
                        continue
                    for text in pending:
                        yield text
                    try:
                        async for event in events:
                            text = _text_delta(event)
                            if text:
                                yield text
                        message = await stream.get_final_message()
                    except Exception as error:
                        raise failover.interrupted(candidate, error) from error
                finally:
                    await manager.__aexit__(None, None, None)
                self.reply = ws._reply(
                    request, candidate, plan, message, failover, started, ttft, True, stream.request_id
                )
                return
            raise failover.exhausted()
        except GeneratorExit:
            raise
        except Exception as error:
            ws._record_error(request, error, failover, streamed=True)
            raise
