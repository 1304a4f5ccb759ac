"""The loopback front-end: a threaded HTTP/1.1 server (keep-alive, chunked SSE) over a `Simulator`.

`serve()` is a context manager running one in a background thread; `start_server()` /
`server.stop()` is the same without `with` (for a notebook). Unmodified SDK code works against
it through `ANTHROPIC_BASE_URL=server.base_url`. A client that disconnects mid-stream only ends
its own connection; malformed HTTP gets a JSON 400; every other request keeps being served.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from clawdbot_nb.sim.api_errors import ERROR_TYPES, error_body
from clawdbot_nb.sim.core import SimRequest, SimResponse, Simulator

__all__ = ["SimServer", "serve", "start_server"]

_READ_CHUNK = 1 << 20


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many SDK clients connect at once in the benchmarks; the default backlog of 5 drops some.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client resetting its idle keep-alive connection is routine, not worth a traceback.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each response stalls ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        # The request log on the simulator is the record; stderr stays quiet.
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP gets the API's JSON error shape instead of an HTML page."""
        body = error_body(
            ERROR_TYPES.get(code, "invalid_request_error"), message or "Bad Request", "req_invalid"
        )
        # An unparsable request line leaves the handler in HTTP/0.9 mode, which would send a bare body.
        self.request_version = "HTTP/1.1"
        with contextlib.suppress(OSError):
            self.send_response(code, message)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        self.close_connection = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _read_body(self, limit: int) -> tuple[bytes, int]:
        """The body and its declared size; a body over `limit` is drained, not kept."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(65_537)
                length = int(line.split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    self.rfile.readline()
                    break
                data = self.rfile.read(length)
                self.rfile.readline()
                size += length
                if size <= limit:
                    parts.append(data)
            return (b"".join(parts) if size <= limit else b""), size
        declared = self.headers.get("content-length")
        size = int(declared) if declared else 0
        if size < 0:
            raise ValueError("negative content-length")
        if size <= limit:
            return self.rfile.read(size), size
        remaining = size
        while remaining > 0:
            data = self.rfile.read(min(_READ_CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
        return b"", size

    def _serve(self) -> None:
        simulator = self.server.simulator
        try:
            body, size = self._read_body(simulator.max_request_bytes)
        except (ValueError, OSError):
            self.send_error(400, "Invalid request body framing")
            return
        split = urllib.parse.urlsplit(self.path)
        host = self.headers.get("host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        request = SimRequest(
            method=self.command,
            path=split.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            query={k: v[-1] for k, v in urllib.parse.parse_qs(split.query).items()},
            base_url=f"http://{host}",
            declared_size=size,
        )
        response = simulator.handle(request)
        try:
            if response.is_stream:
                self._send_stream(response)
            else:
                self._send_body(response)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            # The client went away mid-response; only this connection ends.
            self.close_connection = True

    def _send_body(self, response: SimResponse) -> None:
        if response.delay > 0:
            time.sleep(response.delay)
        response.begin()
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _send_stream(self, response: SimResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if response.delay > 0:
            time.sleep(response.delay)
        response.begin()
        chunks = response.chunks or []
        for index, chunk in enumerate(chunks):
            if response.drop_after is not None and index >= response.drop_after:
                self._drop()
                return
            if chunk.delay > 0:
                time.sleep(chunk.delay)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk.data), chunk.data))
            self.wfile.flush()
        if response.drop_after is not None:
            self._drop()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Cut the connection without the final chunk, as a failing upstream does."""
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class SimServer:
    """A running loopback server: `base_url`, `simulator`, `close()` (alias `stop()`)."""

    def __init__(self, simulator: Simulator | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator if simulator is not None else Simulator()
        self._httpd = _HTTPServer((host, port), self.simulator)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SimServer:
        """Serve in a background (daemon) thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"clawdbot-nb-sim:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `close()` is called elsewhere or Ctrl-C."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self.close()

    def close(self) -> None:
        """Stop serving and cut open keep-alive connections; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        with self._httpd.connections_lock:
            open_connections = list(self._httpd.connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    stop = close

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._thread else "not started"
        return f"SimServer({self.base_url}, {state})"


def start_server(simulator: Simulator | None = None, host: str = "127.0.0.1", port: int = 0) -> SimServer:
    """Start a loopback simulator server in a background thread; stop it with `.stop()`."""
    return SimServer(simulator, host, port).start()


@contextlib.contextmanager
def serve(simulator: Simulator | None = None, host: str = "127.0.0.1", port: int = 0) -> Iterator[SimServer]:
    """`with sim.serve() as server:` a running loopback server, closed on exit."""
    server = start_server(simulator, host, port)
    try:
        yield server
    finally:
        server.close()
