"""Client adapter for the curl command-line tool, speaking docs/clients.md.

python -m conformance.clients.curl_cli_adapter   (JSON lines on stdin/stdout)

The binary is env CURL (default: `curl` on PATH). A job runs as few curl processes as its
shape allows: one for "reuse" (all URLs in order, `--next` between them, `--parallel` for
mode "parallel"), one per request for "fresh". Each transfer reports through `-w`, writes
its body with `-o` and its headers with `-D`; `--trace-ascii` gives the trace.

The curl tool has no option to force a new connection per URL, so "fresh" costs one
process per request and nothing is shared between them: "tls-session-cache" is not
claimed. Nor are "phases" (a process runs all its URLs in one mode: --parallel or not), "pause"
and "cancel" (the tool has no application to pause or abandon a transfer), "trailers" (no
option sends them) or "push" (the tool never accepts one). A streamed body (`body_chunks`) goes
to curl's stdin with `-T -`, one per curl process; the tool reads stdin blocking, so between
two chunks it does not read the connection either: that is how the tool streams. Linux only (pidfd, PDEATHSIG): curl dies with the adapter, and when stdin hangs
up mid-job the adapter kills curl and exits (feed jobs by hand with `< file`, not a pipe).
"""
from __future__ import annotations

import base64
import ctypes
import fcntl
import functools
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time

from conformance.clients.jobs import (
    INFO_APPCONNECT_TIME, INFO_CONNECT_TIME, INFO_HTTP_VERSION, INFO_RESPONSE_CODE,
    INFO_TOTAL_TIME, PROTOCOL, CurlTransfer, answer_with, curl_connect_to, curl_result,
    unsupported)
from conformance.clients.jsonlines import serve

CURL = os.environ.get("CURL", "curl")
# No flag for "h2": the tool's default is CURL_HTTP_VERSION_2TLS (see `curl --libcurl -`),
# which is what the protocol asks for; `--http2` would try an h2c upgrade on http:// URLs.
# "h2-or-http1.1" is --http2: the same over TLS, the h2c Upgrade on http:// URLs.
VERSION_FLAGS = {"h2": [], "h2-or-http1.1": ["--http2"], "http1.1": ["--http1.1"],
                 "h2-prior-knowledge": ["--http2-prior-knowledge"]}
# %{http_version} as -w writes it, as the CURL_HTTP_VERSION_* number CurlTransfer expects
WRITEOUT_VERSIONS = {"1": 1, "1.1": 2, "2": 3}
# Each transfer's -w line: its request index and everything curl knows about it
WRITEOUT = '{"i":%d,"w":%%{json}}\\n'
KILL_MARGIN_S = 1.0   # past curl's own --max-time; below the harness's margin
PR_SET_PDEATHSIG = 1

# --trace-ascii: an event line, then dump lines ("0000: ...") for headers and payloads
TRACE_EVENT = re.compile(r"^(== Info: |=> Send header|<= Recv header|=> Send data|"
                         r"<= Recv data|=> Send SSL data|<= Recv SSL data)(.*)$")
DUMP_LINE = re.compile(r"^[0-9a-f]{4,}: ")
BYTE_COUNT = re.compile(r"^, (\d+ bytes)")
TRANSFER_END = re.compile(r"^\* (Connection #\d+ to host .* left intact|Closing connection)")
PROXY_HTTP2 = (8, 1, 0)   # --proxy-http2 appeared in curl 8.1.0


def hello() -> dict:
    out = subprocess.run([CURL, "-q", "--version"], capture_output=True, text=True,
                         env=curl_env(), check=True).stdout
    first = out.splitlines()[0]
    features = next((line.split()[1:] for line in out.splitlines()
                     if line.startswith("Features:")), [])
    h2, tls = "HTTP2" in features, "SSL" in features
    caps = ["http1.1", "trace", "streaming-upload", "resolve", "process-per-job"]
    caps += ["h2", "alpn"] if h2 and tls else []
    caps += ["h2c", "parallel"] if h2 else []
    caps += ["asterisk-form", "connect-to"] + (["https-proxy"] if "HTTPS-proxy" in features else [])
    return {"type": "hello", "protocol": PROTOCOL,
            "client": {"name": "curl", "version": first, "libcurl": version_of("libcurl", first),
                       "tls": tls_backend(first, features), "nghttp2": version_of("nghttp2", first),
                       "features": features},
            "capabilities": caps}


@functools.cache
def tool_version() -> tuple[int, ...]:
    """The curl tool's own version, as numbers."""
    out = subprocess.run([CURL, "-q", "--version"], capture_output=True, text=True,
                         env=curl_env(), check=True).stdout
    found = re.match(r"curl (\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(n) for n in found.groups()) if found else (0, 0, 0)


def version_of(name: str, line: str) -> str | None:
    found = re.search(rf"(?:^|\s){name}/(\S+)", line)
    return found.group(1) if found else None


def tls_backend(line: str, features: list[str]) -> str | None:
    """curl names its TLS library right after libcurl/x.y.z."""
    words = line.split()
    at = next((n for n, w in enumerate(words) if w.startswith("libcurl/")), len(words))
    return words[at + 1].strip("()") if "SSL" in features and at + 1 < len(words) else None


def curl_env() -> dict:
    """Our environment without proxy settings (the command line also says --noproxy '*')."""
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


# -- the command line -----------------------------------------------------------------------
def request_args(i: int, req: dict, job: dict, tmp: str) -> list[str]:
    seconds = f"{job['timeout_ms'] / 1000:.3f}"
    args = ["--url", req["url"], "-g", *proxy_args(req, job, tmp), "--capath", os.path.join(tmp, "capath"),
            "--max-time", seconds, "--connect-timeout", seconds,
            "-o", path(tmp, "body", i), "-D", path(tmp, "headers", i), "-w", WRITEOUT % i,
            *VERSION_FLAGS[req["http_version"]]]
    if job["ca_file"] is not None:
        args += ["--cacert", job["ca_file"]]
    for entry in job.get("resolve", []):
        args += ["--resolve", entry]
    if job["tls_session_cache"] == "separate":
        args.append("--no-sessionid")
    for name, value in req.get("headers") or []:
        args += ["-H", f"{name}: {value}" if value else f"{name};"]   # "name;" sends it empty
    if req.get("target"):
        args += ["--request-target", req["target"]]
    if req.get("expect_timeout_ms"):
        args += ["--expect100-timeout", f"{req['expect_timeout_ms'] / 1000:.3f}"]
    if req.get("connect_to"):
        args += ["--connect-to", curl_connect_to(req)]
    return args + method_args(i, req, tmp)


def proxy_args(req: dict, job: dict, tmp: str) -> list[str]:
    """No proxy at all, or the request's HTTPS proxy with a CONNECT tunnel (docs/clients.md)."""
    if not req.get("proxy"):
        return ["--noproxy", "*"]
    args = ["--proxy", req["proxy"], "--proxytunnel", "--proxy-capath", os.path.join(tmp, "capath")]
    if job["ca_file"] is not None:
        args += ["--proxy-cacert", job["ca_file"]]
    return args + (["--proxy-http2"] if tool_version() >= PROXY_HTTP2 else [])


def method_args(i: int, req: dict, tmp: str) -> list[str]:
    method, body = req["method"], req.get("body_b64")
    if method == "HEAD":
        return ["-I", "--no-include"]   # -I alone would also write the headers as the body
    if req.get("body_chunks") is not None:   # from stdin, length unknown
        return ["-T", "-"] + ([] if method == "PUT" else ["-X", method])
    if body is None and method != "POST":
        return [] if method == "GET" else ["-X", method]
    data = path(tmp, "upload", i)
    with open(data, "wb") as fh:
        fh.write(base64.b64decode(body or ""))
    return ["--data-binary", "@" + data] + ([] if method == "POST" else ["-X", method])


def command(indices: list[int], job: dict, tmp: str, run: int) -> list[str]:
    argv = [CURL, "-q", "-sS", "--trace-ascii", path(tmp, "trace", run)]
    if job["mode"] == "parallel" and len(indices) > 1:
        argv += ["--parallel", "--parallel-max", str(len(indices))]   # waits to multiplex
    for n, i in enumerate(indices):
        argv += (["--next"] if n else []) + request_args(i, job["requests"][i], job, tmp)
    return argv


def path(tmp: str, kind: str, i: int) -> str:
    return os.path.join(tmp, f"{kind}.{i}")


# -- running curl ---------------------------------------------------------------------------
def die_with_adapter() -> None:
    """In the child: the kernel kills curl if the adapter dies first."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def start(argv: list[str], tmp: str, run: int, chunks: list | None) -> subprocess.Popen:
    """Start curl; `chunks` (body_chunks) are fed to its stdin by a thread."""
    with open(path(tmp, "stdout", run), "wb") as out, open(path(tmp, "stderr", run), "wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if chunks is None else subprocess.PIPE,
                                stdout=out, stderr=err, env=curl_env(), preexec_fn=die_with_adapter)
    if chunks is not None:
        threading.Thread(target=feed_stdin, args=(proc.stdin, chunks), daemon=True).start()
    return proc


def feed_stdin(pipe, chunks: list[dict]) -> None:
    """Each chunk delay_ms after curl read the one before (the pipe is empty), then EOF."""
    try:
        for chunk in chunks:
            while unread(pipe.fileno()):
                time.sleep(0.002)
            time.sleep(chunk["delay_ms"] / 1000)
            pipe.write(base64.b64decode(chunk["data_b64"]))
            pipe.flush()
    except (BrokenPipeError, ValueError, OSError):   # curl ended early, or was killed
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def unread(fd: int) -> int:
    """Octets in a pipe that its reader has not taken yet."""
    count = ctypes.c_int()
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return count.value


def wait(procs: list[subprocess.Popen], deadline: float) -> bool:
    """Wait for every process; kill what is left at the deadline. False if one was killed.
    If our stdin hangs up (the harness went away), kill them all and exit."""
    watch, stdin = select.poll(), sys.stdin.fileno()
    watch.register(stdin, select.POLLHUP)
    running = {os.pidfd_open(p.pid): p for p in procs}   # readable once the process ends
    for fd in running:
        watch.register(fd, select.POLLIN)
    try:
        while any(p.poll() is None for p in running.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                kill(procs)
                return False
            for fd, events in watch.poll(left * 1000):
                if fd == stdin and events & (select.POLLHUP | select.POLLERR):
                    kill(procs)
                    sys.exit(0)
                if fd in running:
                    watch.unregister(fd)
        return True
    finally:
        for fd in running:
            os.close(fd)


def kill(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


# -- reading what curl left -----------------------------------------------------------------
def writeouts(tmp: str, run: int) -> dict[int, dict]:
    """The -w lines of one curl process, by request index."""
    found = {}
    with open(path(tmp, "stdout", run), encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                entry = json.loads(line)
                found[entry["i"]] = entry["w"]
            except (ValueError, KeyError, TypeError):
                print(f"curl_cli_adapter: unexpected stdout line {line[:200]!r}", file=sys.stderr)
    return found


def trace_lines(trace_file: str) -> list[str]:
    """--trace-ascii in the curl family's trace shape: text and headers line by line,
    payloads by size, TLS records left out."""
    out, prefix = [], None
    try:
        fh = open(trace_file, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    with fh:
        for line in fh:
            line = line.rstrip("\n")
            event = TRACE_EVENT.match(line)
            if event:
                prefix = trace_event(event.group(1), event.group(2), out)
            elif prefix and DUMP_LINE.match(line):
                out.append(prefix + line.split(": ", 1)[1])
    return out


def trace_event(kind: str, rest: str, out: list[str]) -> str | None:
    """Record one event line; the prefix its dump lines get, or None to drop them."""
    if kind == "== Info: ":
        out.append("* " + rest)
    elif kind.endswith(" header"):
        return "> " if kind.startswith("=>") else "< "
    elif "SSL" not in kind:
        count = BYTE_COUNT.match(rest)
        out.append(f"{kind}, {count.group(1) if count else '? bytes'}")
    return None


def per_transfer(lines: list[str], n: int) -> list[str]:
    """Split a serial run's trace where each transfer lets go of its connection; if that
    does not give n parts, every transfer gets the whole trace."""
    parts, current = [], []
    for line in lines:
        current.append(line)
        if TRANSFER_END.match(line):
            parts.append(as_text(current))
            current = []
    if current and parts:
        parts[-1] += as_text(current)
    return parts if len(parts) == n else [as_text(lines)] * n


def as_text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def feed(t: CurlTransfer, tmp: str, i: int) -> None:
    """Give the transfer its headers and body as libcurl's callbacks would have."""
    try:
        with open(path(tmp, "headers", i), "rb") as fh:
            for line in fh:
                t.on_header(line)
    except FileNotFoundError:
        pass
    try:
        with open(path(tmp, "body", i), "rb") as fh:
            while chunk := fh.read(1 << 16):
                t.on_write(chunk)
    except FileNotFoundError:
        pass


def getinfo_from(w: dict):
    """curl_easy_getinfo over the -w values, for CurlTransfer.finish."""
    values = {INFO_RESPONSE_CODE: w.get("response_code") or 0,
              INFO_HTTP_VERSION: WRITEOUT_VERSIONS.get(w.get("http_version"), 0),
              INFO_TOTAL_TIME: w.get("time_total") or 0.0,
              INFO_CONNECT_TIME: w.get("time_connect") or 0.0,
              INFO_APPCONNECT_TIME: w.get("time_appconnect") or 0.0}
    return values.__getitem__


def finish(t: CurlTransfer, w: dict | None, missing: str) -> None:
    if w is not None:
        t.finish(getinfo_from(w), w.get("exitcode") or 0, w.get("errormsg") or "")
        return
    t.finish(getinfo_from({}), 0, "")
    t.result.update(ok=False, error={"code": None, "name": "NOT_ATTEMPTED", "class": "other",
                                     "message": f"curl reported nothing for this transfer: "
                                                f"{missing}"})


def why_missing(proc: subprocess.Popen, finished: bool, tmp: str, run: int) -> str:
    if not finished:
        return "curl was still running at the job's deadline and was killed"
    with open(path(tmp, "stderr", run), encoding="utf-8", errors="replace") as fh:
        said = fh.read().strip()[-500:]
    return f"curl exited with status {proc.returncode}" + (f": {said}" if said else "")


# -- a job ----------------------------------------------------------------------------------
def runs_of(job: dict) -> list[list[int]]:
    """Request indices per curl process."""
    indices = list(range(len(job["requests"])))
    return [[i] for i in indices] if job["connection"] == "fresh" else [indices]


def run_job(job: dict) -> dict:
    n = len(job["requests"])
    if job["connection"] == "fresh" and job["tls_session_cache"] == "shared" and n > 1:
        return unsupported(job["id"], {"tls-session-cache"},
                           "the curl tool cannot force a new connection per URL within one "
                           "process, so fresh connections cannot share a TLS session cache")
    runs = runs_of(job)
    streamed = [[i for i in indices if job["requests"][i].get("body_chunks") is not None]
                for indices in runs]
    if any(len(s) > 1 for s in streamed):
        return unsupported(job["id"], {"streaming-upload"},
                           "one stdin per curl process: one streamed body per process")
    transfers = [CurlTransfer(r) for r in job["requests"]]
    parallel = job["mode"] == "parallel"
    deadline = time.monotonic() + job["timeout_ms"] / 1000 * (1 if parallel else n) + KILL_MARGIN_S
    with tempfile.TemporaryDirectory(prefix="h2cs-curl-") as tmp:
        os.mkdir(os.path.join(tmp, "capath"))   # empty: the CA file is the only trust anchor
        procs, finished = [], []
        for run, indices in enumerate(runs):
            chunks = [job["requests"][i]["body_chunks"] for i in streamed[run]]
            procs.append(start(command(indices, job, tmp, run), tmp, run, chunks[0] if chunks else None))
            if not parallel:
                finished.append(wait(procs[-1:], deadline))
        if parallel:
            finished = [wait(procs, deadline)] * len(procs)
        for run, (indices, proc) in enumerate(zip(runs, procs)):
            collect(transfers, indices, job, tmp, run, why_missing(proc, finished[run], tmp, run))
    return curl_result(job, transfers)


def collect(transfers: list[CurlTransfer], indices: list[int], job: dict, tmp: str, run: int,
            missing: str) -> None:
    found, lines = writeouts(tmp, run), trace_lines(path(tmp, "trace", run))
    if job["mode"] == "sequential":
        traces = per_transfer(lines, len(indices))
    else:   # parallel transfers interleave: each gets the whole trace
        traces = [as_text(lines)] * len(indices)
    for i, trace in zip(indices, traces):
        t = transfers[i]
        t.trace.add(trace)
        feed(t, tmp, i)
        finish(t, found.get(i), missing)


def main() -> int:
    greeting = hello()
    return serve(greeting, answer_with(run_job, greeting["capabilities"]))


if __name__ == "__main__":
    sys.exit(main())
