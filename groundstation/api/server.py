"""The API server in a thread beside the station (or alone for ``paleblue serve``), on uvicorn.

``start()`` binds the socket itself (port 0 picks a free one) and returns once the server
answers; ``stop()`` ends it. The station's thread is never the server's: a slow client or a
heavy query costs the station nothing but a share of the CPU.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import threading
import time

import uvicorn

from groundstation.api.app import ApiContext, create_app

log = logging.getLogger(__name__)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``, on 127.0.0.1) -> (host, port); ValueError saying why."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class ApiServer:
    def __init__(self, context: ApiContext, host: str = "127.0.0.1", port: int = 0) -> None:
        self.context = context
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> str:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))  # OSError (address in use): the caller's one line
        sock.listen(128)
        self._socket = sock
        self.port = sock.getsockname()[1]
        # no per-message deflate on the realtime stream: compressing every batch cost the station's
        # process more CPU than encoding it (a third of the API thread's time in py-spy)
        config = uvicorn.Config(
            create_app(self.context),
            log_level="warning",
            lifespan="off",
            ws_max_size=1 << 16,
            ws_per_message_deflate=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="paleblue-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            self.stop()
            raise OSError(f"the API server on {self.url} did not start")
        return self.url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        if self.context.feed is not None:
            self.context.feed.attach(loop)
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        except Exception:  # a server that dies is logged; the station goes on
            log.exception("API server stopped")
        finally:
            if self.context.feed is not None:
                self.context.feed.detach()
            loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
