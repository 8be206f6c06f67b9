"""Drive a client adapter process over the JSON-lines protocol (docs/clients.md).

A crash or a hang costs one case: `run()` reports it and the next `run()`
starts a fresh process.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from ..procfs import descendants

PROTOCOLS = (1, 2)   # docs/clients.md: a protocol 1 adapter lacks the protocol 2 capabilities
HELLO_TIMEOUT_S = 20.0


class AdapterError(RuntimeError):
    """The adapter broke the protocol; the message says how."""


@dataclass
class Reply:
    kind: str                       # "result", "crash", "timeout", "error", "unsupported"
    message: dict | None = None     # the result message, for kind == "result"
    detail: str = ""                # what went wrong otherwise
    stderr: str = ""


@dataclass
class ClientProcess:
    name: str
    argv: list[str]
    cwd: str | None = None
    env: dict | None = None          # the adapter's whole environment; None inherits ours
    hello: dict | None = None
    _proc: subprocess.Popen | None = None
    _buf: bytearray = field(default_factory=bytearray)
    _stderr: list[str] = field(default_factory=list)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> dict:
        self._buf.clear()
        self._stderr.clear()
        try:
            self._proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise AdapterError(f"client {self.name!r}: cannot start {self.argv[0]!r}: {exc}") from exc
        threading.Thread(target=self._drain_stderr, args=(self._proc,), daemon=True).start()
        line = self._readline(time.monotonic() + HELLO_TIMEOUT_S)
        if line is None:
            raise AdapterError(f"client {self.name!r}: no hello message from {' '.join(self.argv)}"
                               f" ({self._death()}); stderr: {self.stderr_tail()}")
        msg = _parse(line)
        if msg.get("type") != "hello" or msg.get("protocol") not in PROTOCOLS:
            raise AdapterError(f"client {self.name!r}: first message must be a hello with "
                               f"protocol {' or '.join(map(str, PROTOCOLS))}, got {line[:200]!r}")
        if not isinstance(msg.get("client", {}).get("version"), str):
            raise AdapterError(f"client {self.name!r}: hello.client.version must be a string")
        self.hello = msg
        return msg

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def pids(self) -> list[int]:
        """The adapter process and everything it started, while it runs."""
        return [self._proc.pid, *descendants(self._proc.pid)] if self.alive() else []

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
            proc.wait(2)
        except (OSError, subprocess.TimeoutExpired):
            _kill(proc)
        for stream in (proc.stdout, proc.stderr):
            stream.close()

    # -- one job -----------------------------------------------------------
    def run(self, job: dict, bound_s: float) -> Reply:
        if not self.alive():
            self.start()
        self._stderr.clear()
        try:
            self._proc.stdin.write((json.dumps(job) + "\n").encode())
            self._proc.stdin.flush()
        except OSError:
            return self._crashed()
        line = self._readline(time.monotonic() + bound_s)
        if line is None:
            if self._proc.poll() is not None or self._eof:
                return self._crashed()
            stderr = self.stderr_tail()
            _kill(self._proc)
            self.close()
            return Reply("timeout", detail=f"no result within {bound_s:.1f}s; adapter killed",
                         stderr=stderr)
        try:
            msg = _parse(line)
        except AdapterError as exc:
            self.close()  # its state is unknown: start afresh next time
            return Reply("error", detail=str(exc), stderr=self.stderr_tail())
        if msg.get("type") == "error":
            kind = "unsupported" if msg.get("unsupported") else "error"
            return Reply(kind, detail=f"adapter refused the job: {msg.get('message')}")
        if msg.get("type") != "result" or msg.get("id") != job["id"] or not isinstance(
                msg.get("outcomes"), list) or len(msg["outcomes"]) != len(job["requests"]):
            self.close()
            return Reply("error", detail=f"adapter broke the protocol: expected a result for "
                         f"{job['id']!r} with {len(job['requests'])} outcome(s), got {line[:300]!r}")
        return Reply("result", msg, stderr=self.stderr_tail())

    # -- plumbing ----------------------------------------------------------
    _eof = False

    def _readline(self, deadline: float) -> str | None:
        self._eof = False
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True
                return None
            self._buf += chunk
        line, _, rest = bytes(self._buf).partition(b"\n")
        self._buf[:] = rest
        return line.decode("utf-8", "replace")

    def _crashed(self) -> Reply:
        try:
            self._proc.wait(2)
        except subprocess.TimeoutExpired:
            _kill(self._proc)
        death, stderr = self._death(), self.stderr_tail()
        self.close()
        return Reply("crash", detail=f"client process died: {death}", stderr=stderr)

    def _death(self) -> str:
        code = self._proc.poll() if self._proc else None
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        for raw in iter(proc.stderr.readline, b""):
            self._stderr.append(raw.decode("utf-8", "replace"))
            del self._stderr[:-200]

    def stderr_tail(self, n: int = 20) -> str:
        return "".join(self._stderr[-n:])


def _parse(line: str) -> dict:
    try:
        msg = json.loads(line)
    except ValueError:
        raise AdapterError(f"adapter wrote a line that is not JSON: {line[:200]!r}") from None
    if not isinstance(msg, dict):
        raise AdapterError(f"adapter wrote JSON that is not an object: {line[:200]!r}")
    return msg


def _kill(proc: subprocess.Popen) -> None:
    """Kill the adapter and anything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        pass
