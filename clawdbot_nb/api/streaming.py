"""Streamed replies: the text as it arrives, then the full `Reply` in `.reply`.

`Workspace.stream` / `Workspace.astream` return these; the call itself runs in the engine's
stream drivers (a profile that fails before any text arrives is failed over; once text has been
shown, a failure ends the call with an error that says the reply is incomplete).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clawdbot_nb.api.reply import Reply


class ReplyStream:
    """The text of a streamed reply as it arrives; the full `Reply` in `.reply` at the end."""

    def __init__(self, start: Callable[[], Iterator[str]]) -> None:
        self._start = start
        self.reply: Reply | None = None
        self._iterator: Iterator[str] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    def _run(self) -> Iterator[str]:
        self.reply = yield from self._start()

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


class AsyncReplyStream:
    """`ReplyStream` for `async for`."""

    def __init__(self, start: Callable[[Callable[[Reply], None]], AsyncIterator[str]]) -> None:
        self._start = start
        self.reply: Reply | None = None
        self._iterator: AsyncIterator[str] | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        if self._iterator is None:
            self._iterator = self._start(self._finished)
        return self._iterator

    def _finished(self, reply: Reply) -> None:
        self.reply = reply

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
