"""What a mock server saw of the client during one case."""
from __future__ import annotations

from dataclasses import dataclass, field

from .wire import Frame


@dataclass
class TlsFacts:
    sni: str | None = None
    alpn_offered: list[str] | None = None
    alpn_selected: str | None = None
    version: str | None = None
    ticket_offered: bool = False     # a non-empty session_ticket or a pre_shared_key extension
    session_id_offered: bool = False  # a non-empty legacy_session_id (TLS 1.2 resumption by id;
    #                                   TLS 1.3 clients send a random one for compatibility)
    resumed: bool = False
    early_data_offered: bool = False


@dataclass
class Connection:
    index: int
    secure: bool
    tls: TlsFacts | None = None
    received: list[Frame] = field(default_factory=list)   # client → server
    sent: list[Frame] = field(default_factory=list)       # server → client
    preface_problem: str | None = None
    http1_lines: list[str] = field(default_factory=list)   # request lines, when spoken HTTP/1.1
    bytes_in: int = 0
    closed_by: str | None = None     # "client", "server" or None while open
    peer_port: int | None = None     # the client's own port: ties the connection to its socket

    def frames(self, ftype: str | None = None) -> list[Frame]:
        return [f for f in self.received if ftype is None or f.type == ftype]

    def headers_after(self, seq: int) -> list[Frame]:
        """Client HEADERS frames that arrived after wire position `seq` on this connection."""
        return [f for f in self.received if f.type == "HEADERS" and f.seq > seq]

    def streams_opened(self) -> list[int]:
        """Client-initiated streams in the order their HEADERS arrived."""
        seen: list[int] = []
        for f in self.received:
            if f.type == "HEADERS" and f.stream not in seen:
                seen.append(f.stream)
        return seen

    def to_json(self) -> dict:
        return {
            "index": self.index, "secure": self.secure,
            "tls": self.tls.__dict__ if self.tls else None,
            "preface_problem": self.preface_problem, "closed_by": self.closed_by,
            "peer_port": self.peer_port,
            "http1_lines": self.http1_lines, "bytes_in": self.bytes_in,
            "received": _capped(self.received), "received_count": len(self.received),
            "sent": _capped(self.sent), "sent_count": len(self.sent),
        }


def _capped(frames: list[Frame], head: int = 200, tail: int = 50) -> list[dict]:
    """Reports keep the start and the end of a flood, not all of it."""
    if len(frames) <= head + tail:
        return [f.to_json() for f in frames]
    gap = {"omitted": len(frames) - head - tail}
    return [f.to_json() for f in frames[:head]] + [gap] + [f.to_json() for f in frames[-tail:]]


@dataclass
class Observations:
    connections: list[Connection] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    unclosed: int = 0    # connections the client still held open when the case ended

    def frames(self, ftype: str | None = None) -> list[Frame]:
        return [f for c in self.connections for f in c.frames(ftype)]

    def to_json(self) -> dict:
        return {"connections": [c.to_json() for c in self.connections],
                "server_errors": self.server_errors, "unclosed": self.unclosed}

    def transcript(self, limit: int = 120) -> str:
        """Frames in both directions, per connection, for failure reports."""
        lines: list[str] = []
        for c in self.connections:
            tls = c.tls
            head = f"connection #{c.index} ({'TLS' if c.secure else 'cleartext'}"
            if tls:
                head += f" {tls.version} alpn={tls.alpn_selected} offered={tls.alpn_offered}"
                head += f" ticket_offered={tls.ticket_offered} resumed={tls.resumed}"
            lines.append(head + f", closed by {c.closed_by})")
            if c.preface_problem:
                lines.append(f"  !! {c.preface_problem}")
            lines += [f"  {line}" for line in c.http1_lines]
            for direction, f in _interleave(c):
                lines.append(f"  {direction} {f.describe()}")
        if len(lines) > limit:
            lines = lines[:limit] + [f"  ... {len(lines) - limit} more lines"]
        return "\n".join(lines) or "(no connection was made)"


def _interleave(c: Connection):
    # Frames carry a sequence number stamped by the transport.
    tagged = [(f.seq, "client", f) for f in c.received] + [(f.seq, "server", f) for f in c.sent]
    for _, who, f in sorted(tagged, key=lambda t: t[0]):
        yield who, f
