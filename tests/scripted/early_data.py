"""TLS 1.3 early data for the scripted client (RFC 8446 §2.3, §4.2.10; RFC 8470 §4).

Python's ssl cannot send early data, so a job that asks for it runs its TLS through pyOpenSSL
on memory BIOs: `EarlySocket` looks enough like an ssl.SSLSocket for H2Connection. Everything
written before the handshake completes goes out as early data when the resumed session allows
it; `finish_handshake()` holds back what must not go early (an unsafe request, RFC 8470 §4).
When the server rejects the early data, the octets are sent again after the handshake, as on a
new connection, unless the misbehaving profile says otherwise.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
import ssl

from OpenSSL import SSL
from OpenSSL._util import ffi, lib

MSG_CALLBACK = "void(int, int, int, const void *, size_t, SSL *, void *)"
HANDSHAKE, ENCRYPTED_EXTENSIONS, EXT_EARLY_DATA = 22, 8, 42


def _watch(write_p, version, content_type, buf, length, ssl, arg) -> None:
    """Whether the server's EncryptedExtensions accepted early data (RFC 8446 §4.2.10)."""
    if write_p or content_type != HANDSHAKE or length < 6:
        return
    msg = bytes(ffi.buffer(buf, length))
    conn = SSL.Connection._reverse_mapping.get(ssl)
    if msg[0] != ENCRYPTED_EXTENSIONS or conn is None:
        return
    p, end = 6, 6 + int.from_bytes(msg[4:6], "big")
    while p + 4 <= min(end, len(msg)):
        ext, size = int.from_bytes(msg[p:p + 2], "big"), int.from_bytes(msg[p + 2:p + 4], "big")
        if ext == EXT_EARLY_DATA:
            conn.get_app_data().accepted = True
        p += 4 + size


def client_context(ca_file: str, alpn: tuple[str, ...]) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.load_verify_locations(ca_file)
    ctx.set_verify(SSL.VERIFY_PEER)
    ctx.set_alpn_protos([p.encode() for p in alpn])
    ctx.set_session_cache_mode(SSL.SESS_CACHE_CLIENT)
    ctx._h2cs_watch = ffi.callback(MSG_CALLBACK, _watch)   # kept alive with the context
    lib.SSL_CTX_set_msg_callback(ctx._context, ctx._h2cs_watch)
    return ctx


def as_ssl_errors(method):
    """pyOpenSSL's errors as ssl.SSLError, which the scripted client handles."""
    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except SSL.Error as exc:
            raise ssl.SSLError(f"TLS error: {exc}") from None
    return wrapper


class EarlySocket:
    """A TLS client connection over `raw` that may start with early data."""

    def __init__(self, ctx: SSL.Context, raw: socket.socket, host: str, session, alpn: str | None,
                 resend_rejected: bool):
        self.raw, self.resend_rejected = raw, resend_rejected
        self.conn = SSL.Connection(ctx, None)
        self.conn.set_app_data(self)
        self.accepted = False
        param = lib.SSL_get0_param(self.conn._ssl)   # RFC 9110 §4.3.4: the name we asked for
        try:
            lib.X509_VERIFY_PARAM_set1_ip(param, ipaddress.ip_address(host).packed,
                                          len(ipaddress.ip_address(host).packed))
        except ValueError:
            lib.X509_VERIFY_PARAM_set1_host(param, host.encode(), len(host))
            self.conn.set_tlsext_host_name(host.encode())
        if session is not None:
            self.conn.set_session(session)
        self.conn.set_connect_state()
        self.early = session is not None and lib.SSL_SESSION_get_max_early_data(session._session) > 0
        self.alpn = alpn if self.early else None      # early data keeps the session's ALPN
        self.sent_early = bytearray()
        self.done = False

    # -- the handshake ---------------------------------------------------------------
    @as_ssl_errors
    def finish_handshake(self) -> None:
        """Complete the handshake (blocking, within the raw socket's timeout)."""
        while not self.done:
            try:
                self.conn.do_handshake()
                self.done = True
            except SSL.WantReadError:
                self._flush()
                self._fill()
        self._flush()
        if self.sent_early and not self.accepted and self.resend_rejected:
            self.conn.sendall(bytes(self.sent_early))   # RFC 8446 §4.2.10: the early data is gone
            self._flush()

    def _fill(self) -> bool:
        data = self.raw.recv(65536)
        if data:
            self.conn.bio_write(data)
        else:
            self.conn.bio_shutdown()
        return bool(data)

    def _flush(self) -> None:
        while True:
            try:
                out = self.conn.bio_read(65536)
            except SSL.WantReadError:
                return
            self.raw.sendall(out)

    # -- what H2Connection and the transport use -------------------------------------
    @as_ssl_errors
    def sendall(self, data: bytes) -> None:
        if self.early and not self.done:
            buf, written = ffi.from_buffer(data), ffi.new("size_t *")
            sent = 0
            while sent < len(data):
                if lib.SSL_write_early_data(self.conn._ssl, buf + sent, len(data) - sent, written) != 1:
                    self.early = False           # no more early data: wait for the handshake
                    return self.sendall(data[sent:])
                self.sent_early += data[sent:sent + written[0]]
                sent += written[0]
            return self._flush()
        self.finish_handshake()
        self.conn.sendall(data)
        self._flush()

    @as_ssl_errors
    def recv(self, n: int) -> bytes:
        self.finish_handshake()
        out = bytearray()
        while True:
            try:
                out += self.conn.recv(65536)
                continue
            except SSL.WantReadError:
                self._flush()
                if out:
                    return bytes(out)
            except SSL.ZeroReturnError:
                return bytes(out)
            if not self._fill():
                return bytes(out)

    def pending(self) -> int:
        return self.conn.pending()

    def selected_alpn_protocol(self) -> str | None:
        if self.alpn is not None:
            return self.alpn
        self.finish_handshake()
        return (self.conn.get_alpn_proto_negotiated() or b"").decode() or None

    @property
    def session(self):
        return self.conn.get_session()

    @property
    def session_reused(self) -> bool:
        return bool(lib.SSL_session_reused(self.conn._ssl))

    def version(self) -> str | None:
        return self.conn.get_protocol_version_name() if self.done else None

    def cipher(self):
        return (self.conn.get_cipher_name(),) if self.done else None

    def settimeout(self, t) -> None:
        self.raw.settimeout(t)

    def setblocking(self, flag: bool) -> None:
        self.raw.setblocking(flag)

    def fileno(self) -> int:
        return self.raw.fileno()

    def shutdown(self, how: int) -> None:
        self.raw.shutdown(how)

    def close(self) -> None:
        self.raw.close()
