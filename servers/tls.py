"""TLS for the mock servers: a trustme CA, server contexts, ClientHello facts."""
from __future__ import annotations

import os
import ssl
import struct
import tempfile

import trustme

from .observations import TlsFacts

# TLS extension numbers (RFC 8446 §4.2, RFC 7301, RFC 5077).
EXT_SNI, EXT_ALPN, EXT_SESSION_TICKET, EXT_EARLY_DATA, EXT_PSK, EXT_VERSIONS = 0, 16, 35, 42, 41, 43


class TlsMaterial:
    """One CA and one leaf certificate for 127.0.0.1, ::1 and localhost, on disk."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="h2cs-tls-")
        self.ca = trustme.CA()
        self.leaf = self.ca.issue_cert("127.0.0.1", "::1", "localhost")
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
        for name in (self.ca_file, self.cert_file, self.key_file):
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.dir)
        except OSError:
            pass


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


_EXTENSIONS = {EXT_SNI: _sni, EXT_ALPN: _alpn, EXT_SESSION_TICKET: _ticket,
               EXT_PSK: _psk, EXT_EARLY_DATA: _early}
