"""The client end of a CONNECT stream (RFC 9113 §8.5): a tunnel through an HTTPS proxy that
carries one HTTP/1.1 exchange with the target, or an RFC 8441 extended CONNECT whose octets are
the response body. The connection asks a tunnel for the request's fields, tells it when the
stream is open and what arrives on it, and sends what it returns."""
from __future__ import annotations

from urllib.parse import urlsplit

from . import checks


class ProxyTunnel:
    """§8.5: CONNECT host:port through a proxy, then HTTP/1.1 with the target over the stream."""
    needs_settings = False    # a CONNECT may go before the server's SETTINGS, like any request
    reports_connect = False   # the proxy's 200 is not the application's response

    def __init__(self, t):
        self.t = t
        self.head, self.length, self.got, self.in_body = bytearray(), None, 0, False

    def fields(self, b) -> list[tuple[str, str]]:
        host = f"[{self.t.host}]" if ":" in self.t.host else self.t.host
        fields = [(":method", "CONNECT"), (":authority", f"{host}:{self.t.port}")]
        if b.connect_with_path:                   # misbehaviour: §8.5 forbids both
            fields[1:1] = [(":scheme", "https"), (":path", "/")]
        return fields

    def opened(self) -> bytes:
        """The HTTP/1.1 request for the target, sent once the proxy answered 2xx."""
        t = self.t
        lines = [f"{t.method} {t.target} HTTP/1.1", f"Host: {t.authority}"]
        lines += [f"{n}: {v}" for n, v in t.headers if n.lower() != "host"]
        if t.body:
            lines.append(f"Content-Length: {len(t.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + t.body

    def received(self, data: bytes) -> bool:
        """Take tunnel octets; True once the target's response is complete."""
        if not self.in_body:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return False
            head, _, data = bytes(self.head).partition(b"\r\n\r\n")
            self._head(head.decode("latin-1").split("\r\n"))
        self.got += len(data)
        self.t.add_body(data)
        return self.length is not None and self.got >= self.length

    def _head(self, lines: list[str]) -> None:
        self.in_body = True
        status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
        fields = [[n.strip().lower(), v.strip()] for n, _, v in (h.partition(":") for h in lines[1:])]
        self.t.set_response(status, fields, "1.1")
        length = next((v for n, v in fields if n == "content-length"), None)
        self.length = int(length) if length and length.isdigit() else None

    def ended(self) -> str | None:
        """The proxy's END_STREAM, the target's FIN: None if that completes the response."""
        if not self.in_body:
            return "the tunnel closed before the target's response head"
        if self.length is not None and self.got < self.length:
            return f"the tunnel closed {self.length - self.got} octets before the end of the response"
        return None


class ExtendedConnect:
    """RFC 8441 §4: CONNECT with :protocol, :scheme, :path and :authority; the request body goes
    out on the stream and what comes back until the server's END_STREAM is the response body."""
    needs_settings = True     # RFC 8441 §3: only after SETTINGS_ENABLE_CONNECT_PROTOCOL=1
    reports_connect = True

    def __init__(self, t):
        self.t = t

    def fields(self, b) -> list[tuple[str, str]]:
        u = urlsplit(self.t.url)
        regular = [(n.lower(), v) for n, v in self.t.headers if n.lower() not in checks.CONNECTION_SPECIFIC]
        return [(":method", "CONNECT"), (":protocol", self.t.protocol), (":scheme", u.scheme),
                (":authority", self.t.authority), (":path", self.t.target)] + regular

    def opened(self) -> bytes:
        return self.t.body

    def received(self, data: bytes) -> bool:
        self.t.add_body(data)
        return False              # the server ends the stream

    def ended(self) -> str | None:
        return None


def for_transfer(t):
    if t.proxy:
        return ProxyTunnel(t)
    if t.protocol:
        return ExtendedConnect(t)
    return None
