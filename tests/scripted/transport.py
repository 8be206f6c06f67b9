"""Sockets for the scripted client: TCP/TLS connect, a shared TLS session cache,
readiness waits, polite closing, and a minimal HTTP/1.1 exchange."""
from __future__ import annotations

import ctypes
import sys
import ipaddress
import re
import select
import socket
import ssl
import time
import warnings

from . import early_data

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class TransferError(Exception):
    """A transfer failed: `cls` is the docs/clients.md error class."""

    def __init__(self, cls: str, name: str, message: str):
        super().__init__(message)
        self.cls, self.name, self.message = cls, name, message


def remaining(deadline: float) -> float:
    return deadline - time.monotonic()


class TLS:
    """SSL contexts and, when `shared`, one session cache for the whole job. `behaviour` (a
    client.Behaviour) gives the knobs of RFC 9113 §9.2 below."""

    def __init__(self, ca_file: str, shared: bool, require_resumption: bool = False,
                 versions: tuple = ("TLSv1_2", None), ip_sni: bool = False, behaviour=None,
                 early_data: bool = False):
        self.ca_file, self.shared = ca_file, shared
        self.early_data = early_data                    # pyOpenSSL connections (early_data.py)
        self.alpns: dict[tuple, str | None] = {}        # the ALPN each stored session had
        self.require_resumption = require_resumption   # misbehaviour: a full handshake fails
        self.versions = versions                        # (minimum, maximum or None)
        self.ip_sni = ip_sni                            # misbehaviour: SNI for an IP literal
        self.b = behaviour
        self.contexts: dict[tuple, ssl.SSLContext] = {}
        self.sessions: dict[tuple, ssl.SSLSession] = {}

    def context(self, alpn: tuple[str, ...]) -> ssl.SSLContext:
        if self.shared and alpn in self.contexts:   # a session only resumes with its own context
            return self.contexts[alpn]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies peer and host name
        lowest, highest = self.versions               # RFC 9113 §9.2: TLS 1.2 or newer
        with warnings.catch_warnings():               # ssl deprecates the names TLSv1 and TLSv1_1
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = getattr(ssl.TLSVersion, lowest)
            if highest:
                ctx.maximum_version = getattr(ssl.TLSVersion, highest)
        if ctx.minimum_version < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")    # OpenSSL 3 allows TLS 1.0/1.1 at level 0 only
        ctx.load_verify_locations(self.ca_file)
        ctx.set_alpn_protocols(list(alpn))
        if self.b is not None:
            self._section_9_2(ctx)
        if self.shared:
            self.contexts[alpn] = ctx
        return ctx

    def _section_9_2(self, ctx: ssl.SSLContext) -> None:
        """§9.2.1: no renegotiation; §9.2.3: post-handshake authentication offered, and a
        CertificateRequest after the handshake marked as a connection error (see fault)."""
        if self.b.refuse_renegotiation:
            ctx.options |= ssl.OP_NO_RENEGOTIATION
        if not self.b.verify_certificate:                # misbehaviour: no certificate checks
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.post_handshake_auth = True
        ctx._msg_callback = _watch_certificate_request   # CPython's (private) message hook

    def _without_name_check(self, alpn: tuple[str, ...]) -> ssl.SSLContext:
        """A context for no SNI: Python's ssl sends as SNI the name it checks."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(self.ca_file)
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def fault(self, sock) -> tuple[str, str] | None:
        """A TLS fact §9.2 makes a connection error, as (code, message), once per connection."""
        if self.b is None or getattr(sock, "h2cs_fault_seen", False):
            return None
        fault = None
        if getattr(sock, "h2cs_certificate_request", False) and self.b.reject_certificate_request:
            fault = ("PROTOCOL_ERROR", "post-handshake CertificateRequest (§9.2.3)")
        version, cipher = sock.version(), (sock.cipher() or ("",))[0]
        if version == "TLSv1.2" and self.b.inadequate_security == "always":   # misbehaviour
            fault = ("INADEQUATE_SECURITY", f"misbehaviour: refusing every TLS 1.2 connection ({cipher})")
        elif version == "TLSv1.2" and self.b.inadequate_security == "block-list" and block_listed(cipher):
            fault = ("INADEQUATE_SECURITY", f"TLS 1.2 cipher suite {cipher} is on the block list (§9.2.2)")
        if fault:
            sock.h2cs_fault_seen = True
        return fault

    def wrap(self, raw: socket.socket, host: str, port: int, alpn: tuple[str, ...]):
        key = (host, port, alpn)
        session = self.sessions.get(key) if self.shared else None
        if self.early_data:
            ctx = self.contexts.get(("early", alpn)) or early_data.client_context(self.ca_file, alpn)
            self.contexts[("early", alpn)] = ctx
            return early_data.EarlySocket(ctx, raw, host, session, self.alpns.get(key),
                                          self.b is None or self.b.resend_rejected_early), key
        ip_sni = self.ip_sni and is_ip_literal(host)
        ctx = self.context(alpn)
        name = host
        if self.b is not None and not self.b.send_sni and not is_ip_literal(host):
            ctx = self._without_name_check(alpn)   # misbehaviour: no server_name (§9.2)
            name = None
        # A rejected session falls back to a full handshake inside OpenSSL.
        sock = ctx.wrap_socket(raw, server_hostname=name, session=session,
                               do_handshake_on_connect=not ip_sni)
        if ip_sni:
            force_sni(sock, host)
            sock.do_handshake()
        if session is not None and self.require_resumption and not sock.session_reused:
            sock.close()
            raise TransferError("tls", "TLS_NOT_RESUMED", "offered a TLS session but the server did a full handshake")
        return sock, key

    def remember(self, sock, key) -> None:
        """Keep the session (with its TLS 1.3 ticket, once data was read) for the next connection."""
        if self.shared and key is not None:
            try:
                if sock.session is not None:
                    self.sessions[key] = sock.session
                    self.alpns[key] = sock.selected_alpn_protocol()
            except (OSError, ValueError, AttributeError):
                pass


def _watch_certificate_request(conn, direction, version, content_type, msg_type, data) -> None:
    if (direction == "read" and content_type == ssl._TLSContentType.HANDSHAKE
            and msg_type == ssl._TLSMessageType.CERTIFICATE_REQUEST):
        conn.h2cs_certificate_request = True


def block_listed(cipher: str) -> bool:
    """RFC 9113 §9.2.2 and Appendix A, in short: on TLS 1.2 only ephemeral key exchange with an
    AEAD cipher is allowed; everything else is on the block list (OpenSSL cipher names)."""
    ephemeral = cipher.startswith(("ECDHE-", "DHE-"))
    aead = any(mode in cipher for mode in ("GCM", "CHACHA20", "CCM"))
    return not (ephemeral and aead)


def addresses(host: str, port: int) -> set[str]:
    """The addresses a host name resolves to (loopback names only reach here)."""
    try:
        return {a[4][0] for a in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except OSError:
        return set()


def certificate_covers(sock, host: str) -> bool:
    """Is the peer certificate of `sock` valid for `host` (its subjectAltName, RFC 6125)?"""
    try:
        names = (sock.getpeercert() or {}).get("subjectAltName", ())
    except (OSError, ValueError):
        return False
    kind = "IP Address" if is_ip_literal(host) else "DNS"
    return any(k == kind and v == host for k, v in names)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def force_sni(sock: ssl.SSLSocket, name: str) -> None:
    """Misbehaviour ip-sni: put `name` in the ClientHello's server_name although it is an IP
    literal. Python's ssl never sends one (RFC 6066 §3), so this sets it on OpenSSL's SSL object
    with ctypes, before the handshake; certificate checks still use the IP address."""
    import _ssl
    if sys.version_info[:2] != (3, 11):  # the struct layout below was checked on CPython 3.11 only
        sock.close()
        raise TransferError("other", "IP_SNI_UNSUPPORTED", "ip-sni is only implemented for CPython 3.11")
    lib = ctypes.CDLL(getattr(_ssl, "__file__", None))   # libssl, as linked by the _ssl module
    lib.SSL_get_SSL_CTX.argtypes, lib.SSL_get_SSL_CTX.restype = [ctypes.c_void_p], ctypes.c_void_p
    lib.SSL_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    lib.SSL_ctrl.restype = ctypes.c_long
    head, pointer = object.__basicsize__, ctypes.sizeof(ctypes.c_void_p)
    # CPython's PySSLSocket holds a weakref to the socket, then SSL *; PySSLContext holds SSL_CTX * first
    ssl_ptr = ctypes.c_void_p.from_address(id(sock._sslobj) + head + pointer).value
    ctx_ptr = ctypes.c_void_p.from_address(id(sock.context) + head).value
    # SSL_set_tlsext_host_name() is the macro SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, host_name, name)
    if not ssl_ptr or lib.SSL_get_SSL_CTX(ssl_ptr) != ctx_ptr or lib.SSL_ctrl(ssl_ptr, 55, 0, name.encode()) != 1:
        sock.close()
        raise TransferError("other", "IP_SNI_UNSUPPORTED", "could not set an IP literal as SNI in this Python")


def connect(host: str, port: int, tls: TLS | None, alpn: tuple[str, ...], deadline: float,
            address: tuple[str, int] | None = None):
    """Open TCP to `address` (default: host and port) and TLS for `host`; return (socket,
    session key, timings)."""
    address = address or (host, port)
    if address[0] not in LOOPBACK:
        raise TransferError("connect", "NOT_LOOPBACK", f"the scripted client only connects to loopback, not {address[0]}")
    t0 = time.monotonic()
    if remaining(deadline) <= 0:
        raise TransferError("timeout", "TIMEOUT", "timed out before connecting")
    try:
        raw = socket.create_connection(address, timeout=remaining(deadline))
    except socket.timeout:
        raise TransferError("timeout", "TIMEOUT", f"connect to {host}:{port} timed out") from None
    except OSError as exc:
        raise TransferError("connect", "CONNECT_FAILED", f"connect to {host}:{port} failed: {exc}") from None
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t1 = time.monotonic()
    timings = {"connect_ms": round((t1 - t0) * 1000, 3), "tls_ms": 0.0}
    if tls is None:
        return raw, None, timings
    try:
        raw.settimeout(max(remaining(deadline), 0.001))
        sock, key = tls.wrap(raw, host, port, alpn)
    except socket.timeout:
        raw.close()
        raise TransferError("timeout", "TIMEOUT", "TLS handshake timed out") from None
    except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
        raw.close()
        raise TransferError("tls", "TLS_HANDSHAKE", f"TLS handshake failed: {exc}") from None
    timings["tls_ms"] = round((time.monotonic() - t1) * 1000, 3)
    return sock, key, timings


def wait_readable(socks: list, timeout: float) -> list:
    """Sockets with data to read; TLS records already decrypted count too."""
    ready = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
    if ready:
        return ready
    if not socks:
        time.sleep(max(0.0, min(timeout, 0.05)))
        return []
    return _poll(socks, timeout)


def _poll(socks: list, timeout: float) -> list:
    """select() for reading without its FD_SETSIZE limit (a retry loop can open 1000 sockets)."""
    poller, by_fd = select.poll(), {}
    for s in socks:
        by_fd[s.fileno()] = s
        poller.register(s, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(max(0.0, timeout) * 1000)]


def close_socket(sock, linger: float = 0.1) -> None:
    """Send FIN after what we wrote, then read until the server closes too (at most
    `linger` seconds), so our last frames (GOAWAY) are not lost to a TCP RST."""
    end = time.monotonic() + linger
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.setblocking(False)
        while time.monotonic() < end:
            if _poll([sock], end - time.monotonic()) and not sock.recv(65536):
                break
    except (OSError, ValueError):
        pass
    try:
        sock.close()
    except OSError:
        pass


# -- HTTP/1.1 (fallback only) ---------------------------------------------------------
class _Reader:
    def __init__(self, sock, deadline: float):
        self.sock, self.deadline, self.buf, self.eof = sock, deadline, bytearray(), False

    def fill(self) -> bool:
        left = remaining(self.deadline)
        if left <= 0:
            raise TransferError("timeout", "TIMEOUT", "HTTP/1.1 response timed out")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TransferError("timeout", "TIMEOUT", "HTTP/1.1 response timed out") from None
        except OSError as exc:
            raise TransferError("recv", "RECV_ERROR", f"HTTP/1.1 receive failed: {exc}") from None
        self.buf += data
        self.eof = not data
        return bool(data)

    def until(self, sep: bytes, cap: int = 65536) -> bytes:
        while sep not in self.buf:
            if len(self.buf) > cap:
                raise TransferError("weird-reply", "WEIRD_REPLY", "HTTP/1.1 response head too large")
            if not self.fill():
                raise TransferError("recv" if not self.buf else "weird-reply", "CONNECTION_CLOSED",
                                    "server closed the connection before a complete HTTP/1.1 response head")
        head, _, rest = bytes(self.buf).partition(sep)
        self.buf = bytearray(rest)
        return head

    def take(self, n: int | None):
        """Up to n octets (None: until EOF); yields chunks; raises on early EOF for n."""
        while n is None or n > 0:
            if not self.buf and not self.fill():
                if n is None:
                    return
                raise TransferError("partial", "PARTIAL_FILE", f"connection closed with {n} body octets missing")
            chunk = bytes(self.buf[:n] if n is not None else self.buf)
            del self.buf[:len(chunk)]
            n = None if n is None else n - len(chunk)
            yield chunk


def http1_exchange(sock, method: str, target: str, authority: str, headers: list, body: bytes,
                   deadline: float, on_head, on_body) -> None:
    """Send one request and read one response: on_head(status, fields), then on_body(chunk)s."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    lines += [f"{n}: {v}" for n, v in headers if n.lower() != "host"]
    if body and not any(n.lower() == "content-length" for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    try:
        sock.settimeout(max(remaining(deadline), 0.001))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    except socket.timeout:
        raise TransferError("timeout", "TIMEOUT", "HTTP/1.1 request send timed out") from None
    except OSError as exc:
        raise TransferError("send", "SEND_ERROR", f"HTTP/1.1 send failed: {exc}") from None
    r = _Reader(sock, deadline)
    while True:
        head = r.until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
        if not m:
            raise TransferError("weird-reply", "WEIRD_REPLY", f"not an HTTP/1.1 status line: {head[0][:80]!r}")
        status = int(m.group(1))
        fields = [[n.strip().lower(), v.strip()] for n, _, v in (h.partition(":") for h in head[1:])]
        if not 100 <= status < 200 or status == 101:
            break
    on_head(status, fields)
    get = lambda name: next((v for n, v in fields if n == name), None)  # noqa: E731
    if method == "HEAD" or status in (204, 304) or status < 200:
        return
    if "chunked" in (get("transfer-encoding") or "").lower():
        while True:
            size = int(r.until(b"\r\n").split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while r.until(b"\r\n"):   # trailer section, up to the empty line
                    pass
                break
            for chunk in r.take(size):
                on_body(chunk)
            r.until(b"\r\n")
    else:
        length = get("content-length")
        for chunk in r.take(int(length) if length and length.isdigit() else None):
            on_body(chunk)
