"""What the application does to a transfer as time passes (docs/clients.md, protocol 2): pause
the receiver and resume it, cancel, and hand over a request body in chunks."""
from __future__ import annotations

import base64
import time

INF = float("inf")


class Pacing:
    """One request's pause, cancel and chunk settings, and where it stands with them."""

    def __init__(self, req: dict):
        self.pause_after, self.pause_ms = req.get("pause_after"), req.get("pause_ms")
        self.resume_after = req.get("resume_after")
        self.cancel_after_bytes, self.cancel_after_ms = req.get("cancel_after_bytes"), req.get("cancel_after_ms")
        self.chunks = None if req.get("body_chunks") is None else [
            (base64.b64decode(c["data_b64"]), c["delay_ms"] / 1000) for c in req["body_chunks"]]
        self.trailers = None if req.get("trailers") is None else [tuple(f) for f in req["trailers"]]
        self.held: bytearray | None = None   # body octets that arrived while the receiver is paused
        self.paused_once, self.paused_at = False, 0.0
        self.next_chunk, self.chunk_due = 0, INF   # chunk_due None: waits for the body so far to go out
        self.cancel_at = INF

    @property
    def paused(self) -> bool:
        return self.held is not None

    @property
    def body_complete(self) -> bool:
        return self.chunks is None or self.next_chunk == len(self.chunks)

    def start(self, now: float) -> None:
        if self.cancel_after_ms is not None:
            self.cancel_at = now + self.cancel_after_ms / 1000
        if self.chunks:
            self.chunk_due = now + self.chunks[0][1]

    # -- receiving ------------------------------------------------------------------------
    def take(self, held: int, data: bytes) -> tuple[bytes, str | None]:
        """Of `data` arriving after `held` body octets: the part the application takes, and
        "cancel" or "pause" when it stops there (once it holds exactly the limit)."""
        if self.paused:
            self.held += data
            return b"", None
        for limit, stop in ((self.cancel_after_bytes, "cancel"),
                            (None if self.paused_once else self.pause_after, "pause")):
            if limit is not None and held + len(data) > limit:
                cut = max(limit - held, 0)
                if stop == "pause":
                    self.held, self.paused_once, self.paused_at = bytearray(data[cut:]), True, time.monotonic()
                return data[:cut], stop
        return data, None

    def resume_due(self, now: float, transfers: list) -> bool:
        if not self.paused:
            return False
        if self.pause_ms is not None:
            return now >= self.paused_at + self.pause_ms / 1000
        return transfers[self.resume_after].done

    def resume(self) -> bytes:
        held, self.held = bytes(self.held), None
        return held

    # -- sending ---------------------------------------------------------------------------
    def due_chunk(self, now: float) -> bytes | None:
        """The next chunk of the body, once its time has come."""
        if self.body_complete or self.chunk_due is None or now < self.chunk_due:
            return None
        data, self.chunk_due = self.chunks[self.next_chunk][0], None
        self.next_chunk += 1
        return data

    def all_sent(self, now: float) -> None:
        """The body so far went out: the delay before the next chunk starts."""
        if not self.body_complete and self.chunk_due is None:
            self.chunk_due = now + self.chunks[self.next_chunk][1]

    def next_event(self) -> float:
        resume = self.paused_at + self.pause_ms / 1000 if self.paused and self.pause_ms is not None else INF
        return min(self.cancel_at, resume, self.chunk_due if self.chunk_due is not None else INF)
