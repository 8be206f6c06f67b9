"""What every Python adapter shares: checking a `run` message, the trace buffer, and for
the curl family the CURLcode table and the callbacks' record of a transfer (docs/clients.md).

Adapters run in their build's own interpreter, so this module imports nothing
outside the standard library.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sys
import time
import traceback

TRACE_CAP = 64 * 1024
PROTOCOL = 2   # docs/clients.md; protocol 1 jobs are protocol 2 jobs without its new fields
HTTP_VERSIONS = ("h2", "h2-prior-knowledge", "http1.1", "h2-or-http1.1")
MODES = ("sequential", "parallel")
CHOICES = {"connection": ("reuse", "fresh"), "tls_session_cache": ("shared", "separate")}
PUSH = ("accept", "refuse")
JOB_REQUIRED = {"type", "id", "timeout_ms", "ca_file", "requests", *CHOICES}
JOB_FIELDS = JOB_REQUIRED | {"mode", "phases", "push", "resolve", "handles", "early_data"}
HANDLES = ("kept", "closed")
REQ_FIELDS = {"method", "url", "headers", "body_b64", "http_version", "pause_after", "pause_ms",
              "resume_after", "cancel_after_bytes", "cancel_after_ms", "body_chunks", "trailers",
              "target", "connect_to", "proxy", "protocol", "expect_timeout_ms"}
# Capabilities a job needs for the protocol 2 fields it uses (hello `capabilities`)
REQUEST_NEEDS = {"pause_after": "pause", "cancel_after_bytes": "cancel", "cancel_after_ms": "cancel",
                 "body_chunks": "streaming-upload", "trailers": "trailers",
                 "target": "asterisk-form", "connect_to": "connect-to", "proxy": "https-proxy",
                 "protocol": "extended-connect"}
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
RESOLVE = re.compile(r"^[^:\[\]\s]+:[0-9]+:(\[[0-9A-Fa-f:]+\]|[0-9.]+)$")   # host:port:address

# libcurl's CURLcode names (curl/curl.h), current spelling; shared by every curl-family adapter.
CURL_CODES = {
    0: "OK", 1: "UNSUPPORTED_PROTOCOL", 2: "FAILED_INIT", 3: "URL_MALFORMAT", 4: "NOT_BUILT_IN",
    5: "COULDNT_RESOLVE_PROXY", 6: "COULDNT_RESOLVE_HOST", 7: "COULDNT_CONNECT",
    8: "WEIRD_SERVER_REPLY", 9: "REMOTE_ACCESS_DENIED", 10: "FTP_ACCEPT_FAILED",
    11: "FTP_WEIRD_PASS_REPLY", 12: "FTP_ACCEPT_TIMEOUT", 13: "FTP_WEIRD_PASV_REPLY",
    14: "FTP_WEIRD_227_FORMAT", 15: "FTP_CANT_GET_HOST", 16: "HTTP2", 17: "FTP_COULDNT_SET_TYPE",
    18: "PARTIAL_FILE", 19: "FTP_COULDNT_RETR_FILE", 21: "QUOTE_ERROR", 22: "HTTP_RETURNED_ERROR",
    23: "WRITE_ERROR", 25: "UPLOAD_FAILED", 26: "READ_ERROR", 27: "OUT_OF_MEMORY",
    28: "OPERATION_TIMEDOUT", 30: "FTP_PORT_FAILED", 31: "FTP_COULDNT_USE_REST",
    33: "RANGE_ERROR", 35: "SSL_CONNECT_ERROR", 36: "BAD_DOWNLOAD_RESUME",
    37: "FILE_COULDNT_READ_FILE", 38: "LDAP_CANNOT_BIND", 39: "LDAP_SEARCH_FAILED",
    42: "ABORTED_BY_CALLBACK", 43: "BAD_FUNCTION_ARGUMENT", 45: "INTERFACE_FAILED",
    47: "TOO_MANY_REDIRECTS", 48: "UNKNOWN_OPTION", 49: "SETOPT_OPTION_SYNTAX",
    52: "GOT_NOTHING", 53: "SSL_ENGINE_NOTFOUND", 54: "SSL_ENGINE_SETFAILED", 55: "SEND_ERROR",
    56: "RECV_ERROR", 58: "SSL_CERTPROBLEM", 59: "SSL_CIPHER", 60: "PEER_FAILED_VERIFICATION",
    61: "BAD_CONTENT_ENCODING", 63: "FILESIZE_EXCEEDED", 64: "USE_SSL_FAILED",
    65: "SEND_FAIL_REWIND", 66: "SSL_ENGINE_INITFAILED", 67: "LOGIN_DENIED",
    68: "TFTP_NOTFOUND", 69: "TFTP_PERM", 70: "REMOTE_DISK_FULL", 71: "TFTP_ILLEGAL",
    72: "TFTP_UNKNOWNID", 73: "REMOTE_FILE_EXISTS", 74: "TFTP_NOSUCHUSER",
    77: "SSL_CACERT_BADFILE", 78: "REMOTE_FILE_NOT_FOUND", 79: "SSH", 80: "SSL_SHUTDOWN_FAILED",
    81: "AGAIN", 82: "SSL_CRL_BADFILE", 83: "SSL_ISSUER_ERROR", 84: "FTP_PRET_FAILED",
    85: "RTSP_CSEQ_ERROR", 86: "RTSP_SESSION_ERROR", 87: "FTP_BAD_FILE_LIST",
    88: "CHUNK_FAILED", 89: "NO_CONNECTION_AVAILABLE", 90: "SSL_PINNEDPUBKEYNOTMATCH",
    91: "SSL_INVALIDCERTSTATUS", 92: "HTTP2_STREAM", 93: "RECURSIVE_API_CALL",
    94: "AUTH_ERROR", 95: "HTTP3", 96: "QUIC_CONNECT_ERROR", 97: "PROXY", 98: "SSL_CLIENTCERT",
    99: "UNRECOVERABLE_POLL", 100: "TOO_LARGE", 101: "ECH_REQUIRED"}
TLS_CODES = {35, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98, 101}
CURL_CLASSES = {28: "timeout", 7: "connect", 16: "http2", 92: "stream", 18: "partial",
                8: "weird-reply", 56: "recv", 52: "recv", 55: "send", 1: "protocol-mismatch",
                **{code: "tls" for code in TLS_CODES}}
MISMATCH = re.compile(r"version mismatch|unsupported http version", re.I)


def curl_error(code: int, message: str) -> dict:
    """The protocol's `error` object for a CURLcode."""
    name = "CURLE_" + CURL_CODES.get(code, f"UNKNOWN_{code}")
    message = message or name
    cls = "protocol-mismatch" if MISMATCH.search(message) else CURL_CLASSES.get(code, "other")
    return {"code": code, "name": name, "message": message, "class": cls}


def problem(job) -> str | None:
    """What is wrong with a run message, or None."""
    if not isinstance(job, dict):
        return "a message must be a JSON object"
    if job.get("type") != "run":
        return f"unknown message type {job.get('type')!r}; expected 'run'"
    wrong = fields_problem("run", set(job), JOB_FIELDS, JOB_REQUIRED)
    if wrong:
        return wrong
    if not isinstance(job["id"], str):
        return "id must be a string"
    if not positive(job["timeout_ms"]):
        return f"timeout_ms must be a positive integer, got {job['timeout_ms']!r}"
    if job["ca_file"] is not None and not isinstance(job["ca_file"], str):
        return "ca_file must be a path or null"
    for key, allowed in CHOICES.items():
        if job[key] not in allowed:
            return f"{key} must be one of {list(allowed)}, got {job[key]!r}"
    if job.get("push") not in (None, *PUSH):
        return f"push must be one of {list(PUSH)} or null, got {job.get('push')!r}"
    resolve = job.get("resolve", [])
    if not isinstance(resolve, list) or not all(isinstance(r, str) and RESOLVE.match(r) for r in resolve):
        return f"resolve must be a list of 'host:port:address' strings, got {resolve!r}"
    if not isinstance(job.get("early_data", False), bool):
        return f"early_data must be true or false, got {job['early_data']!r}"
    if job.get("handles", "kept") not in HANDLES:
        return f"handles must be one of {list(HANDLES)}, got {job['handles']!r}"
    if not isinstance(job["requests"], list) or not job["requests"]:
        return "requests must be a non-empty list"
    for i, r in enumerate(job["requests"]):
        wrong = request_problem(f"requests[{i}]", r)
        if wrong:
            return wrong
    return phases_problem(job) or resume_problem(job)


def positive(n, zero: bool = False) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and (n >= 0 if zero else n > 0)


def phases_problem(job: dict) -> str | None:
    if ("mode" in job) == ("phases" in job):
        return "a run has either mode or phases, not both and not neither"
    if "mode" in job:
        return None if job["mode"] in MODES else \
            f"mode must be one of {list(MODES)}, got {job['mode']!r}"
    phases = job["phases"]
    if not isinstance(phases, list) or not phases:
        return "phases must be a non-empty list"
    for i, phase in enumerate(phases):
        if not isinstance(phase, dict):
            return f"phases[{i}] must be an object"
        wrong = fields_problem(f"phases[{i}]", set(phase), {"mode", "count"}, {"mode", "count"})
        if wrong:
            return wrong
        if phase["mode"] not in MODES:
            return f"phases[{i}].mode must be one of {list(MODES)}, got {phase['mode']!r}"
        if not positive(phase["count"]):
            return f"phases[{i}].count must be a positive integer, got {phase['count']!r}"
    if sum(p["count"] for p in phases) != len(job["requests"]):
        return f"the phases' counts add up to {sum(p['count'] for p in phases)}, " \
               f"but there are {len(job['requests'])} requests"
    return None


def resume_problem(job: dict) -> str | None:
    """resume_after names another request of the same phase (anything else never resumes)."""
    phase_of = {i: n for n, (_, indices) in enumerate(phases_of(job)) for i in indices}
    for i, r in enumerate(job["requests"]):
        other = r.get("resume_after")
        if other is not None and (not positive(other, zero=True) or other == i
                                  or phase_of.get(other) != phase_of[i]):
            return f"requests[{i}].resume_after must be the index of another request of " \
                   f"its phase, got {other!r}"
    return None


def request_problem(where: str, r) -> str | None:
    if not isinstance(r, dict):
        return f"{where} must be an object"
    wrong = fields_problem(where, set(r), REQ_FIELDS, {"method", "url", "http_version"})
    if wrong:
        return wrong
    if not isinstance(r["method"], str) or not TOKEN.match(r["method"]):
        return f"{where}.method must be an HTTP method token, got {r['method']!r}"
    if not isinstance(r["url"], str) or not r["url"]:
        return f"{where}.url must be a non-empty string"
    if r["http_version"] not in HTTP_VERSIONS:
        return f"{where}.http_version must be one of {list(HTTP_VERSIONS)}, got {r['http_version']!r}"
    for key in ("headers", "trailers"):
        if not field_list(r.get(key) or []):
            return f"{where}.{key} must be a list of [name, value] string pairs"
    if r.get("body_b64") is not None and not base64_text(r["body_b64"]):
        return f"{where}.body_b64 must be base64 or null"
    return pause_problem(where, r) or upload_problem(where, r) or optional_problem(where, r)


def pause_problem(where: str, r: dict) -> str | None:
    for key, zero in (("pause_after", True), ("pause_ms", False), ("resume_after", True),
                      ("cancel_after_bytes", True), ("cancel_after_ms", False),
                      ("expect_timeout_ms", False)):
        if r.get(key) is not None and not positive(r[key], zero):
            return f"{where}.{key} must be a {'non-negative' if zero else 'positive'} integer " \
                   f"or null, got {r[key]!r}"
    ends = [k for k in ("pause_ms", "resume_after") if r.get(k) is not None]
    if (r.get("pause_after") is None and ends) or (r.get("pause_after") is not None
                                                   and len(ends) != 1):
        return f"{where}: pause_after goes with exactly one of pause_ms and resume_after"
    return None


def upload_problem(where: str, r: dict) -> str | None:
    chunks = r.get("body_chunks")
    if chunks is None:
        return None
    if r.get("body_b64") is not None:
        return f"{where}: body_b64 and body_chunks exclude each other"
    if not isinstance(chunks, list) or not chunks or not all(
            isinstance(c, dict) and set(c) == {"data_b64", "delay_ms"} and base64_text(c["data_b64"])
            and positive(c["delay_ms"], zero=True) for c in chunks):
        return f"{where}.body_chunks must be a non-empty list of {{data_b64, delay_ms}} objects"
    return None


def field_list(value) -> bool:
    return isinstance(value, list) and all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in value)


def base64_text(value) -> bool:
    try:
        base64.b64decode(value, validate=True)
        return True
    except (TypeError, ValueError, binascii.Error):
        return False


OPTIONAL = {"target": re.compile(r"^\*$"), "connect_to": re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):[0-9]+$"),
            "proxy": re.compile(r"^https://\S+$"), "protocol": TOKEN}


def optional_problem(where: str, r: dict) -> str | None:
    """The optional request fields (docs/clients.md), when present."""
    for key, pattern in OPTIONAL.items():
        value = r.get(key)
        if value is not None and not (isinstance(value, str) and pattern.match(value)):
            return f"{where}.{key} must match {pattern.pattern}, got {value!r}"
    return None



def curl_connect_to(req: dict) -> str:
    """CURLOPT_CONNECT_TO's 'HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT' for `connect_to`."""
    scheme, _, rest = req["url"].partition("://")
    hostport = rest.split("/", 1)[0].rpartition("@")[2]
    if not re.search(r":[0-9]+$", hostport):
        hostport += ":443" if scheme == "https" else ":80"
    return f"{hostport}:{req['connect_to']}"


def fields_problem(where: str, got: set, known: set, required: set) -> str | None:
    unknown, missing = sorted(got - known), sorted(required - got)
    if unknown:
        return f"{where}: unknown field(s) {', '.join(unknown)}"
    if missing:
        return f"{where}: missing field(s) {', '.join(missing)}"
    return None


def phases_of(job: dict) -> list[tuple[str, list[int]]]:
    """(mode, request indices) per phase; a job with `mode` is one phase."""
    if "phases" not in job:
        return [(job["mode"], list(range(len(job["requests"]))))]
    out, start = [], 0
    for phase in job["phases"]:
        out.append((phase["mode"], list(range(start, start + phase["count"]))))
        start += phase["count"]
    return out


def capabilities_needed(job: dict) -> set[str]:
    """The hello capabilities a (valid) run message needs beyond plain transfers."""
    needed = {"phases"} if "phases" in job else set()
    if any(mode == "parallel" and len(indices) > 1 for mode, indices in phases_of(job)):
        needed.add("parallel")
    if job.get("push"):
        needed.add("push")
    if job.get("resolve"):
        needed.add("resolve")
    if job.get("early_data"):
        needed.add("early-data")
    for r in job["requests"]:
        needed |= {cap for key, cap in REQUEST_NEEDS.items() if r.get(key) is not None}
    return needed


def body_of(req: dict) -> bytes | None:
    body = req.get("body_b64")
    return None if body is None else base64.b64decode(body)


class Trace:
    """Text trace that keeps its last TRACE_CAP characters."""

    def __init__(self):
        self.parts, self.size, self.dropped = [], 0, 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * TRACE_CAP:
            self._trim()

    def _trim(self) -> None:
        text = "".join(self.parts)
        cut = max(0, len(text) - (TRACE_CAP - 100))  # room for the marker
        cut = text.find("\n", cut) + 1 or cut          # start at a line
        self.dropped += cut
        self.parts, self.size = [text[cut:]], len(text) - cut

    def text(self) -> str:
        if self.size > TRACE_CAP:
            self._trim()
        text = "".join(self.parts)
        if self.dropped:
            text = f"[trace truncated: first {self.dropped} characters dropped]\n" + text
        return text


def unsupported(job_id, missing, why: str = "") -> dict:
    """The `error` answer for a job that needs capabilities the adapter lacks."""
    return {"type": "error", "id": job_id, "unsupported": sorted(missing),
            "message": f"unsupported: needs {', '.join(sorted(missing))}" + (f" ({why})" if why else "")}


def answer_with(run_job, capabilities):
    """An `answer(line)` for jsonlines.serve: parse, check, refuse what needs a capability
    missing from `capabilities` (the hello's list), run, and turn a bug into an error."""
    def answer(line: bytes) -> dict:
        try:
            job = json.loads(line)
        except ValueError as exc:
            return {"type": "error", "id": None, "message": f"invalid JSON: {exc}"}
        job_id = job.get("id") if isinstance(job, dict) and isinstance(job.get("id"), str) else None
        wrong = problem(job)
        if wrong:
            return {"type": "error", "id": job_id, "message": wrong}
        missing = capabilities_needed(job) - set(capabilities)
        if missing:
            return unsupported(job_id, missing)
        try:
            return run_job(job)
        except Exception as exc:   # a bug in the adapter, not a client verdict
            traceback.print_exc(file=sys.stderr)
            return {"type": "error", "id": job_id, "message": f"adapter failed: {exc!r}"}
    return answer


# The curl family (pycurl, curl_cffi): what libcurl's header, write and debug callbacks
# report, turned into an outcome. The numbers are libcurl's ABI (curl/curl.h).
(INFO_TEXT, INFO_HEADER_IN, INFO_HEADER_OUT, INFO_DATA_IN, INFO_DATA_OUT,
 INFO_SSL_DATA_IN, INFO_SSL_DATA_OUT) = range(7)   # curl_infotype
# Trace lines as curl --trace-ascii writes them; payloads by size only. Raw TLS records are
# left out: curl's text lines already name each handshake message.
DATA_EVENTS = {INFO_DATA_IN: "<= Recv data", INFO_DATA_OUT: "=> Send data"}
SSL_EVENTS = {INFO_SSL_DATA_IN, INFO_SSL_DATA_OUT}
TEXT_PREFIX = {INFO_TEXT: "* ", INFO_HEADER_IN: "< ", INFO_HEADER_OUT: "> "}
# CURLINFO codes the outcome reads
INFO_RESPONSE_CODE, INFO_HTTP_VERSION = 0x200002, 0x20002E
INFO_TOTAL_TIME, INFO_CONNECT_TIME, INFO_APPCONNECT_TIME = 0x300003, 0x300005, 0x300021
INFO_EARLYDATA_SENT = 0x600044   # CURLINFO_EARLYDATA_SENT_T (libcurl 8.11); < 0: rejected
SSLOPT_EARLYDATA = 1 << 6        # CURLSSLOPT_EARLYDATA (libcurl 8.11)
# CURL_HTTP_VERSION_1_0/1_1/2_0. The protocol knows "1.1", "2" and null only: an HTTP/1.0
# reply is reported as "1.1".
SEEN_VERSIONS = {1: "1.1", 2: "1.1", 3: "2"}


# Pausing and cancelling from the callbacks (curl/curl.h)
WRITEFUNC_PAUSE = READFUNC_PAUSE = 0x10000001   # CURL_WRITEFUNC_PAUSE, CURL_READFUNC_PAUSE
WRITEFUNC_ERROR = 0xFFFFFFFF   # CURL_WRITEFUNC_ERROR: any short count fails the transfer, and
#                                curl_cffi passes only this one (and PAUSE) through unchanged
PAUSE_RECV, PAUSE_SEND = 1, 4                    # CURLPAUSE_RECV, CURLPAUSE_SEND


class Upload:
    """A request body offered in chunks (`body_chunks`): chunk n becomes available delay_ms
    after the client took the last octet of chunk n-1 (the first: after the transfer began)."""

    def __init__(self, chunks: list[tuple[bytes, float]]):
        self.chunks, self.next, self.buf = chunks, 0, memoryview(b"")
        self.due: float | None = None   # when the next chunk becomes available

    @classmethod
    def of(cls, req: dict) -> Upload | None:
        if req.get("body_chunks") is not None:
            return cls([(base64.b64decode(c["data_b64"]), c["delay_ms"] / 1000)
                        for c in req["body_chunks"]])
        if req.get("trailers") is not None:   # libcurl sends trailers after a body of unknown length only
            return cls([(body_of(req) or b"", 0.0)])
        return None

    def begin(self, now: float) -> None:
        self.due = now + self.chunks[0][1]

    def read(self, size: int, now: float) -> bytes | None:
        """Up to `size` octets, b"" at the end, None while the next chunk is not due."""
        while not self.buf:
            if self.next == len(self.chunks):
                return b""
            if now < self.due:
                return None
            self.buf = memoryview(self.chunks[self.next][0])
            self.next += 1
            if not self.buf:
                self._drained(now)
        out, self.buf = bytes(self.buf[:size]), self.buf[size:]
        if not self.buf:
            self._drained(now)
        return out

    def _drained(self, now: float) -> None:
        if self.next < len(self.chunks):
            self.due = now + self.chunks[self.next][1]


class CurlTransfer:
    """One request's outcome, fed by the libcurl callbacks; the callbacks also pause and
    cancel it as the request asks (docs/clients.md, protocol 2)."""

    def __init__(self, req: dict, index: int = 0):
        self.req, self.index = req, index     # index: its place in the job's requests
        self.headers: list[list[str]] = []    # the final response's header section
        self.trailers: list[list[str]] = []
        self.block: list[list[str]] | None = None   # the header block being received
        self.block_final = False
        self.sha, self.body_len, self.trace = hashlib.sha256(), 0, Trace()
        self.result: dict | None = None
        self.upload = Upload.of(req)
        self.paused = 0                       # the CURLPAUSE bits libcurl holds for it
        self.paused_at = self.cancel_at = 0.0
        self.receiver_paused_once = False
        self.cancelled: str | None = None     # why the application cancelled it
        self.early_data = False   # the job asked for TLS 1.3 early data (CURLSSLOPT_EARLYDATA)

    # -- the application's side: when to pause, resume and cancel ------------------------
    def begin(self, now: float) -> None:
        if self.upload:
            self.upload.begin(now)
        ms = self.req.get("cancel_after_ms")
        self.cancel_at = now + ms / 1000 if ms is not None else float("inf")

    def resume_due(self, now: float, transfers: list[CurlTransfer]) -> int:
        """The pause bits to lift now: the receiver's once pause_ms passed or request
        resume_after ended, the sender's once the next chunk is due."""
        lift = 0
        if self.paused & PAUSE_RECV:
            ms, other = self.req.get("pause_ms"), self.req.get("resume_after")
            if (now >= self.paused_at + ms / 1000) if ms is not None else \
                    transfers[other].result is not None:
                lift |= PAUSE_RECV
        if self.paused & PAUSE_SEND and now >= self.upload.due:
            lift |= PAUSE_SEND
        return lift

    def next_event(self) -> float:
        """The next moment the job loop has something to do for this transfer."""
        times = [self.cancel_at]
        if self.paused & PAUSE_RECV and self.req.get("pause_ms") is not None:
            times.append(self.paused_at + self.req["pause_ms"] / 1000)
        if self.paused & PAUSE_SEND:
            times.append(self.upload.due)
        return min(times)

    def note(self, text: str) -> None:
        self.trace.add(f"* [adapter] {text}\n")

    # -- libcurl's callbacks ---------------------------------------------------------------
    def on_header(self, raw: bytes) -> int:
        line = raw.decode("latin-1").rstrip("\r\n")
        if line.startswith("HTTP/"):   # a new (interim or final) response starts
            status = line.split(" ", 2)[1] if " " in line else ""
            self.block, self.block_final = [], not status.startswith("1")
        elif not line:                 # the end of a header section
            if self.block is self.trailers:
                pass
            elif self.block_final and self.block is not None:
                self.headers = self.block
                self.block = self.trailers    # what follows the final response is trailers
            else:
                self.block = None             # an interim (1xx) response: not kept
        elif self.block is None:
            return len(raw)
        elif line[:1] in (" ", "\t") and self.block:   # obs-fold continuation
            self.block[-1][1] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            self.block.append([name.strip().lower(), value.strip()])
        return len(raw)

    def on_write(self, data: bytes) -> int:
        """Take a delivery of body octets; once at least cancel_after_bytes or pause_after are
        held, the next delivery cancels or pauses instead (libcurl cannot take part of one)."""
        cancel_after, pause_after = self.req.get("cancel_after_bytes"), self.req.get("pause_after")
        if cancel_after is not None and self.body_len >= cancel_after:
            self.cancelled = f"cancelled by the application after {self.body_len} body octets"
            self.note(self.cancelled)
            return WRITEFUNC_ERROR     # libcurl ends the transfer with CURLE_WRITE_ERROR
        if pause_after is not None and not self.receiver_paused_once and self.body_len >= pause_after:
            self.receiver_paused_once = True
            self.paused |= PAUSE_RECV
            self.paused_at = time.monotonic()
            self.note(f"receiver paused after {self.body_len} body octets")
            return WRITEFUNC_PAUSE     # libcurl delivers this data again after the unpause
        self.sha.update(data)
        self.body_len += len(data)
        return len(data)

    def on_read(self, size: int):
        data = self.upload.read(size, time.monotonic())
        if data is None:
            self.paused |= PAUSE_SEND
            return READFUNC_PAUSE
        return data

    def on_trailers(self) -> list[str]:
        return [f"{n}: {v}" for n, v in self.req["trailers"]]

    def on_debug(self, kind: int, data: bytes) -> None:
        if kind in SSL_EVENTS:
            return
        if kind in DATA_EVENTS:
            self.trace.add(f"{DATA_EVENTS[kind]}, {len(data)} bytes\n")
        else:
            prefix = TEXT_PREFIX.get(kind, "? ")
            lines = data.decode("utf-8", "replace").splitlines() or [""]
            self.trace.add("".join(f"{prefix}{line}\n" for line in lines))

    def finish(self, getinfo, code: int | None, message: str) -> None:
        """Record the outcome; `getinfo(CURLINFO)` reads the handle, `code` is the
        CURLcode (0 = success; None: the application cancelled it, libcurl has no code)."""
        status = getinfo(INFO_RESPONSE_CODE)
        if self.cancelled:
            error = {"code": code, "name": curl_error(code, "")["name"] if code else "CANCELLED",
                     "message": self.cancelled, "class": "cancelled"}
        else:
            error = curl_error(code, message) if code else None
        self.result = {
            "ok": error is None, "error": error,
            "status": status if status and status >= 200 else None,
            "http_version": SEEN_VERSIONS.get(getinfo(INFO_HTTP_VERSION)),
            "headers": self.headers, "trailers": self.trailers, "body_len": self.body_len,
            "body_sha256": self.sha.hexdigest(),
            "timings": {"total_ms": round(getinfo(INFO_TOTAL_TIME) * 1000, 3),
                        "connect_ms": round(getinfo(INFO_CONNECT_TIME) * 1000, 3),
                        "tls_ms": round(getinfo(INFO_APPCONNECT_TIME) * 1000, 3)},
            "trace": self.trace.text()}
        if self.early_data:
            self.result["early_data_sent"] = early_data_sent(getinfo)


def early_data_sent(getinfo) -> int | None:
    """CURLINFO_EARLYDATA_SENT_T: octets sent as early data, negative when the server rejected
    them; None where libcurl does not know the info."""
    try:
        return getinfo(INFO_EARLYDATA_SENT)
    except Exception:   # pycurl.error, curl_cffi's CurlError: an older libcurl
        return None


def early_data_supported(version_num: int) -> bool:
    """CURLSSLOPT_EARLYDATA and CURLINFO_EARLYDATA_SENT_T came with libcurl 8.11.0."""
    return version_num >= 0x080B00


def curl_result(job: dict, transfers: list[CurlTransfer], pushed: list[dict] | None = None) -> dict:
    """The `result` message once every transfer has finished; `pushed` for a job with `push`."""
    outcomes = [t.result for t in transfers]
    trace = "\n".join(f"== request {i}: {t.req['method']} {t.req['url']}\n{o['trace']}"
                      for i, (t, o) in enumerate(zip(transfers, outcomes)))
    result = {"type": "result", "id": job["id"], "outcomes": outcomes, "trace": trace}
    if job.get("push"):
        result["pushed"] = pushed or []
    return result
