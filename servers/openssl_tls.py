"""A fault-playing TLS server side: pyOpenSSL over memory BIOs, for what Python's ssl cannot do.

Python's ssl module cannot offer TLS 1.0, pick an ALPN protocol the client never offered, send
a HelloRequest or a post-handshake CertificateRequest, or accept early data. pyOpenSSL (and the
OpenSSL functions cryptography binds for it) can; `ServerTls` says which of these a case's
server does, and `OpenSslEndpoint` plays it for one connection with the same interface as
servers.tls.SslObjectEndpoint, so the transport drives either the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from OpenSSL._util import ffi, lib

from .observations import TlsFacts
from .tls import ORIGIN, OTHER

VERSIONS = {"TLSv1": SSL.TLS1_VERSION, "TLSv1.1": SSL.TLS1_1_VERSION,
            "TLSv1.2": SSL.TLS1_2_VERSION, "TLSv1.3": SSL.TLS1_3_VERSION}
EARLY_DATA_MAX = 16384
# SSL_read_early_data results and SSL_get_error codes (openssl/ssl.h)
READ_EARLY_ERROR, READ_EARLY_SUCCESS, READ_EARLY_FINISH = 0, 1, 2
ERROR_WANT_READ = 2
# The OpenSSL message callback: (write_p, version, content_type, buf, len, ssl, arg)
MSG_CALLBACK = "void(int, int, int, const void *, size_t, SSL *, void *)"
ALERT, HANDSHAKE = 21, 22                  # TLS content types
CLIENT_HELLO, FINISHED = 1, 20             # handshake message types
# RFC 8446 §6 and RFC 5246 §7.2 alert descriptions a client may send
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
          42: "bad_certificate", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
          50: "decode_error", 51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
          80: "internal_error", 90: "user_canceled", 100: "no_renegotiation",
          109: "missing_extension", 110: "unsupported_extension", 116: "certificate_required",
          120: "no_application_protocol"}


@dataclass(frozen=True)
class ServerTls:
    """What a case's TLS server does beyond a plain handshake. Scenario.alpn stays its ALPN list."""
    versions: tuple[str, str] = ("TLSv1.2", "TLSv1.3")  # lowest and highest it offers
    ciphers: str | None = None          # TLS 1.2 cipher suites (OpenSSL names) it accepts
    alpn_select: str | None = None      # selected whatever the client offered (RFC 7301 §3.2 forbids it)
    alpn_refuse: bool = False           # no overlap: a no_application_protocol alert (RFC 7301 §3.2)
    alpn_after_first: tuple[str, ...] | None = None  # its ALPN list from the second connection on
    tickets: bool = True                # False: no tickets; TLS 1.2 resumes by session ID (RFC 5246)
    tickets_after_first: bool = True    # False: from the second connection on, tickets switched off
    rotate_ticket_keys: bool = False    # new ticket keys for every connection
    cert: str = "default"               # "wrong-name", "unknown-ca", or "per-name": a certificate
    #                                     for the SNI name only (ORIGIN or OTHER)
    early_data: str | None = None       # "accept" or "reject": tickets allow early data (RFC 8446 §4.2.10)


class Certificates:
    """The leaf certificates a ServerTls may present, issued once per worker."""

    def __init__(self, ca: trustme.CA, default: trustme.LeafCert):
        stranger = trustme.CA()
        self.leaves = {"default": default,
                       "wrong-name": ca.issue_cert("wrong.h2cs.test"),
                       "unknown-ca": stranger.issue_cert("127.0.0.1", "::1", "localhost", ORIGIN, OTHER),
                       ORIGIN: ca.issue_cert(ORIGIN), OTHER: ca.issue_cert(OTHER)}

    def install(self, target, name: str) -> None:
        """Load leaf `name` (and its chain) into a Context or a Connection."""
        leaf = self.leaves[name]
        pems = [blob.bytes() for blob in leaf.cert_chain_pems]
        target.use_certificate(x509.load_pem_x509_certificate(pems[0]))
        target.use_privatekey(serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None))
        if isinstance(target, SSL.Context):
            for pem in pems[1:]:
                target.add_extra_chain_cert(x509.load_pem_x509_certificate(pem))


class OpenSslContexts:
    """One SSL context per (ServerTls, ALPN list), kept so that tickets from one connection of a
    case resume on the next; `rotate_ticket_keys` asks for a new one every time."""

    def __init__(self, certs: Certificates):
        self.certs = certs
        self._cache: dict = {}

    def get(self, setup: ServerTls, alpn: tuple[str, ...] | None) -> SSL.Context:
        key = (setup, alpn)
        if not setup.rotate_ticket_keys and key in self._cache:
            return self._cache[key]
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        lowest, highest = setup.versions
        ctx.set_min_proto_version(VERSIONS[lowest])
        ctx.set_max_proto_version(VERSIONS[highest])
        if setup.ciphers or VERSIONS[lowest] < SSL.TLS1_2_VERSION:
            # OpenSSL 3 and later refuse TLS 1.0/1.1 and SHA-1 signatures above security level 0
            ctx.set_cipher_list(((setup.ciphers or "DEFAULT") + ":@SECLEVEL=0").encode())
        self.certs.install(ctx, "default" if setup.cert == "per-name" else setup.cert)
        if setup.cert == "per-name":
            ctx.set_tlsext_servername_callback(self._per_name)
        if alpn is not None or setup.alpn_select:
            ctx.set_alpn_select_callback(lambda conn, offered: conn.get_app_data().select_alpn(offered))
        ctx.set_session_id(b"h2clientspec")   # TLS 1.2 resumption by session ID (RFC 5246 §7.4.1.2)
        if setup.early_data:
            lib.SSL_CTX_set_max_early_data(ctx._context, EARLY_DATA_MAX)
        ctx._h2cs_watch = ffi.callback(MSG_CALLBACK, _watch)   # kept alive with the context
        lib.SSL_CTX_set_msg_callback(ctx._context, ctx._h2cs_watch)
        if not setup.rotate_ticket_keys:
            self._cache[key] = ctx
        return ctx

    def _per_name(self, conn: SSL.Connection) -> None:
        name = (conn.get_servername() or b"").decode("ascii", "replace")
        if name in (ORIGIN, OTHER):
            self.certs.install(conn, name)


def _watch(write_p, version, content_type, buf, length, ssl, arg) -> None:
    if write_p or not length:
        return
    conn = SSL.Connection._reverse_mapping.get(ssl)
    endpoint = conn.get_app_data() if conn is not None else None
    if endpoint is not None:
        endpoint.received(content_type, bytes(ffi.buffer(buf, min(length, 2))))


class OpenSslEndpoint:
    """One server connection played by pyOpenSSL through memory BIOs."""
    errors = (SSL.Error, OSError)

    def __init__(self, contexts: OpenSslContexts, setup: ServerTls, alpn: tuple[str, ...] | None,
                 index: int, facts: TlsFacts, hello: bytes):
        self.setup, self.index, self.facts = setup, index, facts
        self.alpn = setup.alpn_after_first if index and setup.alpn_after_first else alpn
        self.early = bytearray()
        self._early_pending = setup.early_data == "accept"
        self._held = bytearray()   # written while a renegotiation we asked for is unanswered
        self.tls = SSL.Connection(contexts.get(setup, alpn), None)
        self.tls.set_app_data(self)
        if not setup.tickets or (index and not setup.tickets_after_first):
            self.tls.set_options(SSL.OP_NO_TICKET)
        self.tls.set_accept_state()
        self.tls.bio_write(hello)

    # -- callbacks -----------------------------------------------------------------------
    def select_alpn(self, offered: list[bytes]):
        if self.setup.alpn_select:
            return self.setup.alpn_select.encode()
        for name in self.alpn or ():
            if name.encode() in offered:
                return name.encode()
        if self.setup.alpn_refuse:
            raise SSL.Error("no overlapping ALPN protocol")  # pyOpenSSL sends the fatal alert
        return SSL.NO_OVERLAPPING_PROTOCOLS

    def received(self, content_type: int, first: bytes) -> None:
        """A TLS message from the client (the OpenSSL message callback): alerts, and the
        handshake of a renegotiation after our HelloRequest."""
        if content_type == ALERT and len(first) > 1:
            self.facts.client_alerts.append(ALERTS.get(first[1], f"alert {first[1]}"))
        elif content_type == HANDSHAKE and first and self.facts.renegotiation:
            if first[0] == CLIENT_HELLO:
                self.facts.renegotiation = "started"
            elif first[0] == FINISHED and self.facts.renegotiation == "started":
                self.facts.renegotiation = "completed"

    # -- the endpoint interface (servers.tls.SslObjectEndpoint) ---------------------------
    def feed(self, data: bytes) -> None:
        self.tls.bio_write(data)

    def handshake(self) -> bool:
        if self._early_pending and not self._read_early():
            return False
        try:
            self.tls.do_handshake()
        except SSL.WantReadError:
            return False
        self._record()
        return True

    def _read_early(self) -> bool:
        """RFC 8446 §4.2.10: read the client's early data before the handshake completes."""
        buf, got = ffi.new("char[]", EARLY_DATA_MAX), ffi.new("size_t *")
        while True:
            status = lib.SSL_read_early_data(self.tls._ssl, buf, EARLY_DATA_MAX, got)
            if status == READ_EARLY_SUCCESS:
                self.early += ffi.buffer(buf, got[0])[:]
                continue
            if status == READ_EARLY_FINISH:
                self._early_pending = False
                return True
            if lib.SSL_get_error(self.tls._ssl, status) == ERROR_WANT_READ:
                return False
            self.tls._raise_ssl_error(self.tls._ssl, status)

    def _record(self) -> None:
        f = self.facts
        f.alpn_selected = (self.tls.get_alpn_proto_negotiated() or b"").decode() or None
        f.version = self.tls.get_protocol_version_name()
        f.cipher = self.tls.get_cipher_name()
        f.resumed = bool(lib.SSL_session_reused(self.tls._ssl))
        f.early_data_accepted = bool(self.early)
        f.early_data_octets = len(self.early)

    def read(self) -> bytes:
        try:
            return self.tls.recv(65536)
        except (SSL.WantReadError, SSL.ZeroReturnError):
            return b""
        finally:
            if self._held and self.facts.renegotiation == "completed":
                held, self._held = bytes(self._held), bytearray()
                self.tls.sendall(held)

    def write(self, data: bytes) -> None:
        """After our HelloRequest, what the scenario writes waits for the renegotiation: a
        client that completes it gets the response on the renegotiated connection."""
        if self.facts.renegotiation in ("requested", "started"):
            self._held += data
            return
        self.tls.sendall(data)

    def pending(self) -> bytes:
        try:
            return self.tls.bio_read(1 << 20)
        except SSL.WantReadError:
            return b""

    def close_notify(self) -> None:
        try:
            self.tls.shutdown()
        except self.errors:
            pass

    def act(self, action: str) -> None:
        """A post-handshake TLS message the scenario asked for (Conn.tls_action)."""
        if action == "renegotiate":     # RFC 5246 §7.4.1.1: a HelloRequest
            self.facts.renegotiation = "requested"
            self.tls.renegotiate()
        elif action == "certificate-request":   # RFC 8446 §4.6.2
            self.tls.set_verify(SSL.VERIFY_PEER, lambda *args: True)
            if not self.facts.post_handshake_auth_offered:
                self.facts.certificate_request = "not sent: the client did not offer post_handshake_auth"
                return
            if lib.SSL_verify_client_post_handshake(self.tls._ssl) != 1:
                lib.ERR_clear_error()
                self.facts.certificate_request = "not sent: OpenSSL refused"
                return
            self.facts.certificate_request = "sent"
        try:
            self.tls.do_handshake()
        except SSL.WantReadError:
            pass
