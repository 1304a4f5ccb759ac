"""The in-process front-end: an httpx2 transport (sync and async) backed by a `Simulator`.

`anthropic.Anthropic(base_url=..., http_client=httpx2.Client(transport=sim.transport()))` and
`AsyncAnthropic` with `httpx2.AsyncClient(transport=...)` both work. Streams are produced
lazily: a stream's cache writes become visible when the client reads its first event, and a
dropped stream raises the same `httpx2.RemoteProtocolError` a real cut connection does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx2

from clawdbot_nb.sim.core import SimRequest, SimResponse, Simulator

__all__ = ["SimTransport"]

_DROPPED = "peer closed connection without sending complete message body (incomplete chunked read)"


class _SyncStream(httpx2.SyncByteStream):
    def __init__(self, response: SimResponse) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        if response.delay > 0:
            time.sleep(response.delay)
        response.begin()
        for index, chunk in enumerate(response.chunks or ()):
            if response.drop_after is not None and index >= response.drop_after:
                raise httpx2.RemoteProtocolError(_DROPPED)
            if chunk.delay > 0:
                time.sleep(chunk.delay)
            yield chunk.data
        if response.drop_after is not None and response.drop_after >= len(response.chunks or ()):
            raise httpx2.RemoteProtocolError(_DROPPED)


class _AsyncStream(httpx2.AsyncByteStream):
    def __init__(self, response: SimResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        response = self._response
        if response.delay > 0:
            await asyncio.sleep(response.delay)
        response.begin()
        for index, chunk in enumerate(response.chunks or ()):
            if response.drop_after is not None and index >= response.drop_after:
                raise httpx2.RemoteProtocolError(_DROPPED)
            if chunk.delay > 0:
                await asyncio.sleep(chunk.delay)
            yield chunk.data
        if response.drop_after is not None and response.drop_after >= len(response.chunks or ()):
            raise httpx2.RemoteProtocolError(_DROPPED)


class SimTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Serves httpx2 requests from a `Simulator` without a socket."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    @staticmethod
    def _to_sim(request: httpx2.Request, body: bytes) -> SimRequest:
        url = request.url
        return SimRequest(
            method=request.method,
            path=url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=dict(url.params.items()),
            base_url=f"{url.scheme}://{url.netloc.decode('ascii')}",
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.simulator.handle(self._to_sim(request, request.read()))
        if response.is_stream:
            return httpx2.Response(response.status, headers=response.headers, stream=_SyncStream(response))
        if response.delay > 0:
            time.sleep(response.delay)
        response.begin()
        return httpx2.Response(response.status, headers=response.headers, content=response.body)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.simulator.handle(self._to_sim(request, await request.aread()))
        if response.is_stream:
            return httpx2.Response(response.status, headers=response.headers, stream=_AsyncStream(response))
        if response.delay > 0:
            await asyncio.sleep(response.delay)
        response.begin()
        return httpx2.Response(response.status, headers=response.headers, content=response.body)
