"""TLS for the mock servers: a trustme CA, server contexts, ClientHello facts.

The CA, the server's certificate and its private key live in a temporary folder
(h2cs-tls-*) for as long as the servers run. It is removed on a normal exit, and on
SIGINT, SIGTERM and SIGHUP before they interrupt the process as Ctrl-C does.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import ssl
import struct
import tempfile
import threading

import trustme

from .observations import TlsFacts

# TLS extension numbers (RFC 8446 §4.2, RFC 7301, RFC 5077).
EXT_SNI, EXT_ALPN, EXT_SESSION_TICKET, EXT_EARLY_DATA, EXT_PSK, EXT_VERSIONS = 0, 16, 35, 42, 41, 43
EXT_POST_HANDSHAKE_AUTH = 49
# Names under which a case's server can be reached through the job's `resolve` (RFC 6761 .test).
ORIGIN, OTHER = "origin.h2cs.test", "other.h2cs.test"
VERSION_NAMES = {0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised as an interruption so that every cleanup runs."""


_ON_DISK: list["TlsMaterial"] = []   # material not yet removed, in this process


def _remove_all() -> None:
    for material in list(_ON_DISK):
        material.cleanup()


ON_INTERRUPT: list = []   # callables(signal name), e.g. the plugin's "stop after this case"


def _interrupt(signum: int, frame) -> None:
    _remove_all()
    for hook in ON_INTERRUPT:   # the exception below can be lost if it lands in a finalizer
        hook(signal.Signals(signum).name)
    raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signal.Signals(signum).name)


def interrupt_on_termination() -> None:
    """SIGINT, SIGTERM and SIGHUP (Ctrl-C, a `timeout`, a closed terminal) remove this
    process's key material, then interrupt it as Ctrl-C does, so that every cleanup runs.
    Only where nobody else handles them (a `nohup` keeps SIGHUP ignored), and only from the
    main thread, which alone may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, untouched in ((signal.SIGINT, signal.default_int_handler),
                           (signal.SIGTERM, signal.SIG_DFL), (signal.SIGHUP, signal.SIG_DFL)):
        if signal.getsignal(sig) is untouched:
            signal.signal(sig, _interrupt)


atexit.register(_remove_all)


class TlsMaterial:
    """One CA and one leaf certificate for 127.0.0.1, ::1, localhost, ORIGIN and OTHER, on disk."""

    def __init__(self) -> None:
        interrupt_on_termination()
        # Listed before it exists: a signal at any point finds the folder to remove.
        self.dir = os.path.join(tempfile.gettempdir(), f"h2cs-tls-{secrets.token_hex(8)}")
        _ON_DISK.append(self)
        os.mkdir(self.dir, 0o700)
        self.ca = trustme.CA()
        self.leaf = self.ca.issue_cert("127.0.0.1", "::1", "localhost", ORIGIN, OTHER)
        self.narrow = self.ca.issue_cert("localhost")   # served for SNI localhost by narrow contexts
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.cert_file = os.path.join(self.dir, "server.pem")
        self.key_file = os.path.join(self.dir, "server.key")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.leaf.private_key_pem.write_to_path(self.key_file)
        with open(self.cert_file, "wb") as fh:
            for blob in self.leaf.cert_chain_pems:
                fh.write(blob.bytes())
        self._contexts: dict = {}

    def context(self, alpn: tuple[str, ...] | None, fresh: bool = False,
                max_version: str | None = None, narrow: bool = False) -> ssl.SSLContext:
        """A server context; `fresh` gives new session-ticket keys (a key rotation);
        `max_version` ("TLSv1_2") caps the protocol version; `narrow` answers SNI localhost
        with a certificate for localhost only (no IP address in it)."""
        key = (alpn, max_version, narrow)
        if not fresh and key in self._contexts:
            return self._contexts[key]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if max_version:
            ctx.maximum_version = getattr(ssl.TLSVersion, max_version)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        if narrow:
            ctx.sni_callback = self._narrow_for(alpn, max_version)
        if not fresh:
            self._contexts[key] = ctx
        return ctx

    def _narrow_for(self, alpn, max_version):
        only_localhost = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        only_localhost.minimum_version = ssl.TLSVersion.TLSv1_2
        if max_version:
            only_localhost.maximum_version = getattr(ssl.TLSVersion, max_version)
        self.narrow.configure_cert(only_localhost)
        if alpn:
            only_localhost.set_alpn_protocols(list(alpn))

        def pick(sslobj, server_name, ctx):
            if server_name == "localhost":
                sslobj.context = only_localhost
        return pick

    def cleanup(self) -> None:
        if self in _ON_DISK:
            _ON_DISK.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)


def client_hello_complete(buf: bytes) -> bool:
    """True once the first TLS record (the ClientHello) has fully arrived."""
    return len(buf) >= 5 and len(buf) >= 5 + struct.unpack(">H", buf[3:5])[0]


def parse_client_hello(buf: bytes) -> TlsFacts:
    """Facts from the first ClientHello record; tolerant of anything odd."""
    facts = TlsFacts()
    try:
        body = buf[5:5 + struct.unpack(">H", buf[3:5])[0]]
        if buf[0] != 22 or body[0] != 1:  # handshake record, ClientHello
            return facts
        p = 4 + 2 + 32                    # handshake header, legacy_version, random
        facts.session_id_offered = body[p] > 0  # TLS 1.2 resumption by id (or 1.3 compat)
        facts.session_id = body[p + 1:p + 1 + body[p]].hex() or None
        p += 1 + body[p]                  # legacy_session_id
        p += 2 + struct.unpack(">H", body[p:p + 2])[0]  # cipher suites
        p += 1 + body[p]                  # compression methods
        end = p + 2 + struct.unpack(">H", body[p:p + 2])[0]
        p += 2
        while p + 4 <= end:
            etype, elen = struct.unpack(">HH", body[p:p + 4])
            ext = body[p + 4:p + 4 + elen]
            p += 4 + elen
            _EXTENSIONS.get(etype, lambda f, e: None)(facts, ext)
    except (IndexError, struct.error):
        pass
    return facts


def server_hello_session_id(out: bytes) -> str | None:
    """The legacy_session_id of the ServerHello at the start of the server's first flight, hex:
    in TLS 1.2 the id the client may resume by (RFC 5246 §7.4.1.3); TLS 1.3 echoes the client's."""
    try:
        if out[0] != 22 or out[5] != 2:   # handshake record, ServerHello
            return None
        p = 5 + 4 + 2 + 32                # record header, handshake header, version, random
        return out[p + 1:p + 1 + out[p]].hex() or None
    except IndexError:
        return None


def _sni(facts: TlsFacts, ext: bytes) -> None:
    if len(ext) > 5 and ext[2] == 0:
        facts.sni = ext[5:5 + struct.unpack(">H", ext[3:5])[0]].decode("latin-1")


def _alpn(facts: TlsFacts, ext: bytes) -> None:
    names, p = [], 2
    while p < len(ext):
        n = ext[p]
        names.append(ext[p + 1:p + 1 + n].decode("latin-1"))
        p += 1 + n
    facts.alpn_offered = names


def _ticket(facts: TlsFacts, ext: bytes) -> None:
    facts.ticket_offered = facts.ticket_offered or len(ext) > 0  # empty = "send me one"


def _psk(facts: TlsFacts, ext: bytes) -> None:
    facts.ticket_offered = True


def _early(facts: TlsFacts, ext: bytes) -> None:
    facts.early_data_offered = True


def _versions(facts: TlsFacts, ext: bytes) -> None:
    codes = [struct.unpack(">H", ext[i:i + 2])[0] for i in range(1, 1 + ext[0], 2)]
    facts.versions_offered = [VERSION_NAMES.get(c, hex(c)) for c in codes]


def _pha(facts: TlsFacts, ext: bytes) -> None:
    facts.post_handshake_auth_offered = True


_EXTENSIONS = {EXT_SNI: _sni, EXT_ALPN: _alpn, EXT_SESSION_TICKET: _ticket,
               EXT_PSK: _psk, EXT_EARLY_DATA: _early, EXT_VERSIONS: _versions,
               EXT_POST_HANDSHAKE_AUTH: _pha}


class SslObjectEndpoint:
    """One server connection played by Python's ssl through memory BIOs (the usual server).
    servers.openssl_tls.OpenSslEndpoint has the same interface for the TLS faults."""
    errors = (ssl.SSLError, OSError)

    def __init__(self, ctx: ssl.SSLContext, facts: TlsFacts, hello: bytes):
        self.facts = facts
        self.early = b""
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self._in, self._out, server_side=True)
        self._in.write(hello)

    def feed(self, data: bytes) -> None:
        self._in.write(data)

    def handshake(self) -> bool:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        self.facts.alpn_selected = self.tls.selected_alpn_protocol()
        self.facts.version = self.tls.version()
        self.facts.resumed = self.tls.session_reused
        self.facts.cipher = (self.tls.cipher() or (None,))[0]
        return True

    def read(self) -> bytes:
        try:
            return self.tls.read(65536)
        except ssl.SSLWantReadError:
            return b""

    def write(self, data: bytes) -> None:
        self.tls.write(data)

    def pending(self) -> bytes:
        return self._out.read()

    def close_notify(self) -> None:
        try:
            self.tls.unwrap()
        except (ssl.SSLError, OSError):   # SSLWantReadError: the client's close_notify is not in
            pass

    def act(self, action: str) -> None:
        raise ValueError(f"TLS action {action!r} needs Scenario.tls (servers.openssl_tls)")
