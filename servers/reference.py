"""The well-behaved reference server: hypercorn with a tiny ASGI app.

Every client must pass the baseline cases against it. It runs on the
worker's server loop, bound to a port-0 socket we hand it by file descriptor.
It records no frames: baseline cases judge the client's outcome only.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import socket

from .observations import Observations
from .scenario import BODY


def body_of_size(n: int) -> bytes:
    """Deterministic bytes, so a client can be checked for exact bodies."""
    block = hashlib.sha256(b"h2clientspec").digest() * 64  # 2048 bytes
    return (block * (n // len(block) + 1))[:n]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        msg = await receive()
        body += msg.get("body", b"")
        more = msg.get("more_body", False)
    path = scope["path"]
    if path.startswith("/size/"):
        payload = body_of_size(int(path.rsplit("/", 1)[1]))
    elif scope["method"] == "POST":
        payload = hashlib.sha256(body).hexdigest().encode()
    else:
        payload = BODY
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class Reference:
    """A hypercorn instance shaped like `Hosted` (url, ca_file, wait_closed, close)."""

    def __init__(self, servers, port: int = 0):
        from hypercorn.asyncio import serve   # here: the catalog imports this module to collect
        from hypercorn.config import Config
        self.servers = servers
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        self._sock, self.port = sock, sock.getsockname()[1]
        cfg = Config()
        cfg.bind = [f"fd://{sock.fileno()}"]
        cfg.certfile, cfg.keyfile = servers.tls.cert_file, servers.tls.key_file
        cfg.alpn_protocols = ["h2", "http/1.1"]
        cfg.accesslog = None
        cfg.errorlog = logging.getLogger("h2cs.reference")
        cfg.errorlog.disabled = True
        self._stop = asyncio.Event()
        self._task = asyncio.run_coroutine_threadsafe(
            serve(app, cfg, shutdown_trigger=self._wait_stop), servers.loop)

    async def _wait_stop(self):
        await self._stop.wait()

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    @property
    def ca_file(self) -> str:
        return self.servers.ca_file

    def session(self) -> "_ReferenceCase":
        return _ReferenceCase(self)

    def close(self) -> None:
        self.servers.loop.call_soon_threadsafe(self._stop.set)
        try:
            self._task.result(5)
        except Exception:
            pass
        try:
            self._sock.close()
        except OSError:
            pass  # hypercorn closed the descriptor it was handed


class _ReferenceCase:
    """One case's view of the shared reference server."""

    def __init__(self, ref: Reference):
        self.ref = ref
        self.observations = Observations()
        self.url, self.ca_file = ref.url, ref.ca_file

    def wait_closed(self, timeout: float) -> bool:
        return True

    def close(self) -> Observations:
        return self.observations
