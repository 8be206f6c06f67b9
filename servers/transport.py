"""The one place that touches sockets: an asyncio loop in a thread drives scenarios.

`ServerSet` is session-scoped (one per xdist worker). `ServerSet.host()` opens a
listener on port 0 for one case and returns a `Hosted` handle. TLS runs through
memory BIOs (Python's ssl, or pyOpenSSL for the TLS faults of servers/openssl_tls.py), so
the raw ClientHello is visible (ALPN offered, ticket offered) before the handshake consumes it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import traceback
from typing import Callable

from .observations import Connection, Observations
from .scenario import Conn, Scenario
from .openssl_tls import Certificates, OpenSslContexts, OpenSslEndpoint
from .tls import (SslObjectEndpoint, TlsMaterial, client_hello_complete, parse_client_hello,
                  server_hello_session_id)


class ServerSet:
    """An event loop thread plus TLS material, shared by every case of a worker."""

    def __init__(self) -> None:
        self.tls = TlsMaterial()
        self._reference = None
        self._openssl: OpenSslContexts | None = None
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="h2cs-servers", daemon=True)
        self._thread.start()

    @property
    def ca_file(self) -> str:
        return self.tls.ca_file

    @property
    def openssl_contexts(self) -> OpenSslContexts:
        """pyOpenSSL contexts for the scenarios with a ServerTls, made on first use."""
        if self._openssl is None:
            self._openssl = OpenSslContexts(Certificates(self.tls.ca, self.tls.leaf))
        return self._openssl

    def call(self, fn: Callable, *args, timeout: float = 5.0):
        """Run `fn(*args)` on the loop thread and return its result (a plain callback, not a
        task: a case makes several of these round trips)."""
        done: concurrent.futures.Future = concurrent.futures.Future()

        def run():
            try:
                done.set_result(fn(*args))
            except BaseException as exc:   # raised again in the calling thread
                done.set_exception(exc)
        self.loop.call_soon_threadsafe(run)
        return done.result(timeout)

    def host(self, scenario: Scenario, *, secure: bool = True, family: int = socket.AF_INET,
             port: int = 0) -> "Hosted":
        """Listen for one case. The port is bound here, so it is known at once; the loop
        accepts from its next turn on (a client that connects sooner waits in the backlog)."""
        hosted = Hosted(self, scenario, secure, family, port)
        hosted._listen()
        self.loop.call_soon_threadsafe(hosted._start)
        return hosted

    def host_reference(self):
        """The shared hypercorn reference server, started on first use."""
        if self._reference is None:
            from .reference import Reference
            self._reference = Reference(self)
        return self._reference.session()

    def close(self) -> None:
        if self._reference is not None:
            self._reference.close()
            self._reference = None
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        self.loop.close()
        self.tls.cleanup()


class Hosted:
    """One case's listener, its connections and what they saw."""

    def __init__(self, servers: ServerSet, scenario: Scenario, secure: bool, family: int, port: int = 0):
        self.servers, self.scenario, self.secure, self.family = servers, scenario, secure, family
        self.observations = Observations()
        self._protocols: list[_Protocol] = []
        self._all_closed = threading.Event()
        self._all_closed.set()
        self.port = port   # 0: any free port

    @property
    def host(self) -> str:
        return "127.0.0.1" if self.family == socket.AF_INET else "[::1]"

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}{path}"

    @property
    def ca_file(self) -> str:
        return self.servers.ca_file

    def _listen(self) -> None:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1" if self.family == socket.AF_INET else "::1", self.port))
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._sock = sock

    def _start(self) -> None:   # on the loop thread
        self.servers.loop.add_reader(self._sock.fileno(), self._accept_pending)

    def _accept_pending(self) -> None:
        """Accept every connection in the backlog (on the loop thread). Each is registered
        here, in the same step, so a connection is never accepted but not yet counted."""
        loop = self.servers.loop
        while self._sock.fileno() >= 0:   # not yet closed by close()
            try:
                client, peer = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:   # reset while in the backlog
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            proto = _Protocol(self, len(self.observations.connections), client, peer[1])
            self._protocols.append(proto)
            self._all_closed.clear()
            task = loop.create_task(loop.connect_accepted_socket(lambda p=proto: p, client))
            task.add_done_callback(lambda t, p=proto: self._transport_failed(p, t))

    def _transport_failed(self, proto: "_Protocol", task: asyncio.Task) -> None:
        """A connection asyncio could not take over is over, not left waiting."""
        if task.cancelled() or task.exception() is None or proto.closed:
            return
        gone = f"client (gone before it was taken over: {task.exception()!r})"
        proto.record.closed_by = proto.record.closed_by or gone
        proto.closed = True
        self._closed()

    def _closed(self) -> None:
        if all(p.closed for p in self._protocols):
            self._all_closed.set()

    def error(self, where: str) -> None:
        self.observations.server_errors.append(f"{where}: {traceback.format_exc()}")

    def wait_closed(self, timeout: float) -> bool:
        """Block until every connection the client opened has ended (every connect the
        client made is in the backlog by now: accept them all first)."""
        self.servers.call(self._accept_pending)
        return self._all_closed.wait(timeout)

    def close(self) -> Observations:
        """Stop listening, drop what is left open, and hand over the observations."""
        def stop() -> bool:
            self.servers.loop.remove_reader(self._sock.fileno())
            self._sock.close()
            open_ones = [p for p in self._protocols if not p.closed]
            for p in open_ones:
                self.observations.unclosed += 1
                p.record.closed_by = "nobody (still open when the case ended)"
                if p.transport is not None:
                    p.transport.abort()
                else:   # accepted, not yet taken over by asyncio
                    p.sock.close()
            return bool(open_ones)
        if self.servers.call(stop):
            self.servers.call(lambda: None)   # the aborted connections' last callbacks
        return self.observations


class _Protocol(asyncio.Protocol):
    def __init__(self, hosted: Hosted, index: int, sock: socket.socket, peer_port: int):
        self.hosted = hosted
        self.sock = sock
        self.record = Connection(index, hosted.secure, peer_port=peer_port)
        hosted.observations.connections.append(self.record)
        self.conn = Conn(self.record)
        self.conn.wake = self._flush
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self._hello = bytearray()
        self._tls: SslObjectEndpoint | OpenSslEndpoint | None = None
        self._ready = not hosted.secure
        self._half_closed = False

    # -- asyncio callbacks ------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        if self._ready:
            self._call("connection_made")

    def data_received(self, data: bytes) -> None:
        self.record.bytes_in += len(data)
        if not self.hosted.secure:
            self._call("data_received", data)
            return
        if self._tls is None:
            self._hello += data
            if not client_hello_complete(self._hello):
                return
            self._start_tls(bytes(self._hello))
        else:
            self._tls.feed(data)
        self._pump_tls()

    def eof_received(self):
        self.record.closed_by = self.record.closed_by or "client"
        return False

    def connection_lost(self, exc) -> None:
        self._drain()
        if self.record.closed_by is None:
            self.record.closed_by = "client" if exc is None else f"client ({exc})"
        self.closed = True
        if self._ready:
            self._call("connection_lost")
        self.hosted._closed()

    def _drain(self) -> None:
        """Read what the client sent before it closed. asyncio stops reading when one of our
        writes fails (EPIPE, ECONNRESET), but the client's last frames, its GOAWAY above all,
        may still wait in the kernel's receive queue: they must be judged too."""
        try:
            while True:
                chunk = self.sock.recv(65536, socket.MSG_DONTWAIT)
                if not chunk:
                    return
                self.data_received(chunk)
        except OSError:   # EAGAIN: nothing left; ECONNRESET, EBADF: the queue is gone
            return

    # -- TLS through memory BIOs -------------------------------------------
    def _start_tls(self, hello: bytes) -> None:
        scenario, servers = self.hosted.scenario, self.hosted.servers
        self.record.tls = parse_client_hello(hello)
        if scenario.tls is not None:
            self._tls = OpenSslEndpoint(servers.openssl_contexts, scenario.tls, scenario.alpn,
                                        self.record.index, self.record.tls, hello)
            return
        ctx = servers.tls.context(scenario.alpn, fresh=scenario.rotate_ticket_keys,
                                  max_version=scenario.tls_max_version, narrow=scenario.narrow_cert)
        self._tls = SslObjectEndpoint(ctx, self.record.tls, hello)

    def _pump_tls(self) -> None:
        try:
            if not self._ready:
                if not self._tls.handshake():
                    self._flush_tls()
                    return
                self._ready = True
                self._flush_tls()
                self._call("connection_made")
                if self._tls.early:
                    self._call("data_received", bytes(self._tls.early))
                    self.record.tls.early_data_frames = len(self.record.received)
            while True:
                chunk = self._tls.read()
                if not chunk:
                    break
                self._call("data_received", chunk)
            self._flush_tls()    # TLS records the reads produced (a renegotiation's, say)
        except self._tls.errors as exc:
            self.record.closed_by = self.record.closed_by or f"server (TLS: {exc})"
            self._flush_tls()
            self.transport.close()

    def _flush_tls(self) -> None:
        pending = self._tls.pending()
        if pending and self.record.tls.server_session_id is None:
            self.record.tls.server_session_id = server_hello_session_id(pending)
        if pending and not self.transport.is_closing():
            self.transport.write(pending)

    # -- scenario calls ----------------------------------------------------
    def _call(self, name: str, *args) -> None:
        if self.closed and name != "connection_lost":
            return
        try:
            getattr(self.hosted.scenario, name)(self.conn, *args)
        except Exception:
            self.hosted.error(f"scenario {type(self.hosted.scenario).__name__}.{name} "
                              f"on connection #{self.record.index}")
            self.conn.closing = True
        self._flush()

    def _flush(self) -> None:
        if self.transport is None or self.transport.is_closing() or self._half_closed:
            return
        out, self.conn.out = bytes(self.conn.out), bytearray()
        actions, self.conn.tls_actions = self.conn.tls_actions, []
        if out or actions:
            if self._tls is not None:
                self._write_tls(out, actions)
            else:
                self.transport.write(out)
        if self.conn.closing and self.conn.half_close:
            self._half_close()
        elif self.conn.closing:
            self.record.closed_by = self.record.closed_by or "server"
            if self._tls is not None:
                self._tls.close_notify()
                self._flush_tls()
            self.transport.close()

    def _write_tls(self, out: bytes, actions: list[tuple[int, str]]) -> None:
        """The scenario's octets, with its TLS actions (Conn.tls_action) at their places."""
        start = 0
        try:
            for at, action in [*actions, (len(out), None)]:
                if out[start:at]:
                    self._tls.write(out[start:at])
                if action:
                    self._tls.act(action)
                start = at
        except self._tls.errors:
            pass
        self._flush_tls()

    def _half_close(self) -> None:
        """FIN (after TLS close_notify) but go on reading until the client closes."""
        self._half_closed = True
        self.record.closed_by = self.record.closed_by or "server (FIN, kept reading)"
        if self._tls is not None:
            self._tls.close_notify()
            self._flush_tls()
        if self.transport.can_write_eof():
            self.transport.write_eof()
