"""Drive a client adapter process over the JSON-lines protocol (docs/clients.md).

A crash or a hang costs one case: `run()` reports it and the next `run()`
starts a fresh process. An adapter that cannot start, or says no hello within
HELLO_TIMEOUT_S, raises AdapterError naming the build and its command, and
leaves no process behind: each adapter leads its own process group, and the
whole group is killed.
"""
from __future__ import annotations

import json
import os
import select
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from ..procfs import descendants

PROTOCOLS = (1, 2)   # docs/clients.md: a protocol 1 adapter lacks the protocol 2 capabilities
# Real builds say hello within 0.2 s on an idle machine; the slowest, curl-cffi and httpx-h2,
# took 3.4 s with 18 adapters starting at once beside 4 CPU hogs on 2 cores with cold
# bytecode caches. 8 s keeps a wide margin and stops a silent adapter quickly.
HELLO_TIMEOUT_S = 8.0
GRACE_S = 2.0   # for an adapter to exit by itself once its stdin is closed


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
    _drainer: threading.Thread | None = None
    _busy: bool = False              # a job was sent and its answer not read (an interrupted run)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> dict:
        self.close(grace_s=0)   # reap the one before, if it died
        self._buf.clear()
        self._stderr.clear()
        try:
            self._proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise AdapterError(f"{self.who()}: cannot start it: {exc.strerror or exc}") from None
        self._drainer = threading.Thread(target=self._drain_stderr, args=(self._proc,), daemon=True)
        self._drainer.start()
        problem = self._await_hello()
        if problem:
            self.close(grace_s=0)
            last = next((ln.strip() for ln in reversed(self._stderr) if ln.strip()), "")
            raise AdapterError(f"{self.who()}: {problem}" + (f"; stderr: {last[:300]}" if last else ""))
        return self.hello

    def who(self) -> str:
        return f"client build {self.name!r} (`{shlex.join(self.argv)}`)"

    def _await_hello(self) -> str | None:
        """None once a valid hello arrived, else what went wrong."""
        line = self._readline(time.monotonic() + HELLO_TIMEOUT_S)
        if line is None and not self._eof:
            return f"no hello message within {HELLO_TIMEOUT_S:g} s; killed it"
        if line is None:
            _wait_exit(self._proc, GRACE_S)
            return f"no hello message: it closed its output ({self._death()})"
        try:
            msg = _parse(line)
        except AdapterError as exc:
            return f"no hello message: {exc}"
        if msg.get("type") != "hello" or msg.get("protocol") not in PROTOCOLS:
            return (f"first message must be a hello with protocol {' or '.join(map(str, PROTOCOLS))}, "
                    f"got {line[:200]!r}")
        if not isinstance(msg.get("client", {}).get("version"), str):
            return "hello.client.version must be a string"
        self.hello = msg
        return None

    def alive(self) -> bool:
        return self._proc is not None and _status(self._proc) is None

    def pids(self) -> list[int]:
        """The adapter process and everything it started, while it runs."""
        return [self._proc.pid, *descendants(self._proc.pid)] if self.alive() else []

    def close(self, grace_s: float = GRACE_S) -> None:
        """Close the adapter's stdin, give it `grace_s` to exit, then kill what is left of its
        process group (a curl it started, say) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        _wait_exit(proc, 0 if self._busy else grace_s)   # a busy adapter reads stdin only later
        self._busy = False
        _kill(proc)
        if self._drainer is not None:
            self._drainer.join(GRACE_S)   # its stderr ends with the group: read to the end
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
        self._busy = True
        line = self._readline(time.monotonic() + bound_s)
        self._busy = False
        if line is None:
            if not self.alive() or self._eof:
                return self._crashed()
            stderr = self.stderr_tail()
            self.close(grace_s=0)
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
        _wait_exit(self._proc, GRACE_S)
        death, stderr = self._death(), self.stderr_tail()
        self.close(grace_s=0)
        return Reply("crash", detail=f"client process died: {death}", stderr=stderr)

    def _death(self) -> str:
        code = _status(self._proc) if self._proc else None
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


def _status(proc: subprocess.Popen) -> int | None:
    """The adapter's exit status as Popen.returncode gives it, None while it runs. It is read
    without reaping: until _kill reaps it, its process group id cannot go to another process."""
    if proc.returncode is not None:
        return proc.returncode
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return proc.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _wait_exit(proc: subprocess.Popen, timeout: float) -> None:
    """Wait up to `timeout` for the adapter to exit, without reaping it."""
    if timeout <= 0 or _status(proc) is not None:
        return
    try:
        fd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def _kill(proc: subprocess.Popen) -> None:
    """Kill the adapter and anything it started (it leads its own process group), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        pass
