"""The reference client adapter: libcurl through pycurl, speaking docs/clients.md.

python -m conformance.clients.pycurl_adapter   (JSON lines on stdin/stdout)
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sys
import traceback

import pycurl

from conformance.clients.jsonlines import serve

PROTOCOL = 1
TRACE_CAP = 64 * 1024

HTTP_VERSIONS = {"h2": pycurl.CURL_HTTP_VERSION_2TLS,
                 "h2-prior-knowledge": pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
                 "http1.1": pycurl.CURL_HTTP_VERSION_1_1,
                 "h2-or-http1.1": pycurl.CURL_HTTP_VERSION_2TLS}
# The protocol knows "1.1", "2" and null only: an HTTP/1.0 reply is reported as "1.1".
SEEN_VERSIONS = {pycurl.CURL_HTTP_VERSION_1_0: "1.1", pycurl.CURL_HTTP_VERSION_1_1: "1.1",
                 pycurl.CURL_HTTP_VERSION_2_0: "2"}
CHOICES = {"mode": ("sequential", "parallel"), "connection": ("reuse", "fresh"),
           "tls_session_cache": ("shared", "separate")}
JOB_FIELDS = {"type", "id", "timeout_ms", "ca_file", "requests", *CHOICES}
REQ_FIELDS = {"method", "url", "headers", "body_b64", "http_version"}
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# CURLE_* names. pycurl keeps obsolete aliases (E_OPERATION_TIMEOUTED, E_SSL_CACERT == 60, ...)
# and lacks codes newer than it (92 HTTP2_STREAM, ...): current libcurl names win.
CURRENT_NAMES = {
    4: "NOT_BUILT_IN", 8: "WEIRD_SERVER_REPLY", 9: "REMOTE_ACCESS_DENIED",
    10: "FTP_ACCEPT_FAILED", 12: "FTP_ACCEPT_TIMEOUT", 16: "HTTP2", 17: "FTP_COULDNT_SET_TYPE",
    18: "PARTIAL_FILE", 21: "QUOTE_ERROR", 22: "HTTP_RETURNED_ERROR", 25: "UPLOAD_FAILED",
    28: "OPERATION_TIMEDOUT", 33: "RANGE_ERROR", 36: "BAD_DOWNLOAD_RESUME",
    45: "INTERFACE_FAILED", 48: "UNKNOWN_OPTION", 60: "PEER_FAILED_VERIFICATION",
    64: "USE_SSL_FAILED", 70: "REMOTE_DISK_FULL", 73: "REMOTE_FILE_EXISTS",
    92: "HTTP2_STREAM", 93: "RECURSIVE_API_CALL", 94: "AUTH_ERROR", 95: "HTTP3",
    96: "QUIC_CONNECT_ERROR", 97: "PROXY", 98: "SSL_CLIENTCERT", 99: "UNRECOVERABLE_POLL",
    100: "TOO_LARGE", 101: "ECH_REQUIRED"}
ERROR_NAMES = {getattr(pycurl, n): "CURLE_" + n[2:] for n in sorted(dir(pycurl), reverse=True)
               if n.startswith("E_") and not n.startswith("E_MULTI_")}
ERROR_NAMES.update({code: "CURLE_" + name for code, name in CURRENT_NAMES.items()})

TLS_CODES = {35, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98, 101}
CLASSES = {28: "timeout", 7: "connect", 16: "http2", 92: "stream", 18: "partial",
           8: "weird-reply", 56: "recv", 52: "recv", 55: "send", 1: "protocol-mismatch",
           **{code: "tls" for code in TLS_CODES}}
MISMATCH = re.compile(r"version mismatch|unsupported http version", re.I)

# Trace lines as curl --trace-ascii writes them; payloads by size only. Raw TLS records are
# left out: curl's text lines already name each handshake message.
DATA_EVENTS = {pycurl.INFOTYPE_DATA_IN: "<= Recv data", pycurl.INFOTYPE_DATA_OUT: "=> Send data"}
SSL_EVENTS = {pycurl.INFOTYPE_SSL_DATA_IN, pycurl.INFOTYPE_SSL_DATA_OUT}
TEXT_PREFIX = {pycurl.INFOTYPE_TEXT: "* ", pycurl.INFOTYPE_HEADER_IN: "< ",
               pycurl.INFOTYPE_HEADER_OUT: "> "}


def hello() -> dict:
    info = pycurl.version_info()
    bits = info[4]
    flags = sorted((getattr(pycurl, n), n[len("VERSION_"):]) for n in dir(pycurl)
                   if n.startswith("VERSION_"))
    features = [name for flag, name in flags if bits & flag]
    nghttp2 = re.search(r"\bnghttp2/(\S+)", pycurl.version)
    h2, tls = "HTTP2" in features, "SSL" in features
    caps = ["http1.1", "trace"]
    caps += ["h2", "alpn"] if h2 and tls else []
    caps += ["h2c", "parallel"] if h2 else []
    caps += ["tls-session-cache"] if tls else []
    return {"type": "hello", "protocol": PROTOCOL,
            "client": {"name": "pycurl", "version": pycurl.version, "libcurl": info[1],
                       "tls": info[5], "nghttp2": nghttp2.group(1) if nghttp2 else None,
                       "features": features},
            "capabilities": caps}


def problem(job) -> str | None:
    """What is wrong with a run message, or None."""
    if not isinstance(job, dict):
        return "a message must be a JSON object"
    if job.get("type") != "run":
        return f"unknown message type {job.get('type')!r}; expected 'run'"
    wrong = fields_problem("run", set(job), JOB_FIELDS, JOB_FIELDS)
    if wrong:
        return wrong
    if not isinstance(job["id"], str):
        return "id must be a string"
    t = job["timeout_ms"]
    if not isinstance(t, int) or isinstance(t, bool) or t <= 0:
        return f"timeout_ms must be a positive integer, got {t!r}"
    if job["ca_file"] is not None and not isinstance(job["ca_file"], str):
        return "ca_file must be a path or null"
    for key, allowed in CHOICES.items():
        if job[key] not in allowed:
            return f"{key} must be one of {list(allowed)}, got {job[key]!r}"
    if not isinstance(job["requests"], list) or not job["requests"]:
        return "requests must be a non-empty list"
    for i, r in enumerate(job["requests"]):
        where = f"requests[{i}]"
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
            return (f"{where}.http_version must be one of {list(HTTP_VERSIONS)}, "
                    f"got {r['http_version']!r}")
        headers = r.get("headers") or []
        if not isinstance(headers, list) or not all(
                isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h)
                for h in headers):
            return f"{where}.headers must be a list of [name, value] string pairs"
        body = r.get("body_b64")
        if body is not None:
            try:
                base64.b64decode(body, validate=True)
            except (TypeError, ValueError, binascii.Error):
                return f"{where}.body_b64 must be base64 or null"
    return None


def fields_problem(where: str, got: set, known: set, required: set) -> str | None:
    unknown, missing = sorted(got - known), sorted(required - got)
    if unknown:
        return f"{where}: unknown field(s) {', '.join(unknown)}"
    if missing:
        return f"{where}: missing field(s) {', '.join(missing)}"
    return None


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


class Transfer:
    """One request's outcome, fed by the libcurl callbacks."""

    def __init__(self, req: dict):
        self.req = req
        self.headers: list[list[str]] = []
        self.sha, self.body_len, self.trace = hashlib.sha256(), 0, Trace()
        self.result: dict | None = None

    def on_header(self, raw: bytes) -> None:
        line = raw.decode("latin-1").rstrip("\r\n")
        if line.startswith("HTTP/"):   # a new (interim or final) response starts
            self.headers = []
        elif line[:1] in (" ", "\t") and self.headers:   # obs-fold continuation
            self.headers[-1][1] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            self.headers.append([name.strip().lower(), value.strip()])

    def on_write(self, data: bytes) -> None:
        self.sha.update(data)
        self.body_len += len(data)

    def on_debug(self, kind: int, data: bytes) -> None:
        if kind in SSL_EVENTS:
            return
        if kind in DATA_EVENTS:
            self.trace.add(f"{DATA_EVENTS[kind]}, {len(data)} bytes\n")
        else:
            prefix = TEXT_PREFIX.get(kind, "? ")
            lines = data.decode("utf-8", "replace").splitlines() or [""]
            self.trace.add("".join(f"{prefix}{line}\n" for line in lines))

    def finish(self, c: pycurl.Curl, code: int, message: str) -> None:
        """Record the outcome; `code` is the CURLcode (0 = success)."""
        status = c.getinfo(pycurl.RESPONSE_CODE)
        error = None
        if code:
            name = ERROR_NAMES.get(code, f"CURLE_UNKNOWN_{code}")
            message = message or c.errstr() or name
            cls = "protocol-mismatch" if MISMATCH.search(message) else CLASSES.get(code, "other")
            error = {"code": code, "name": name, "message": message, "class": cls}
        self.result = {
            "ok": not code, "error": error, "status": status or None,
            "http_version": SEEN_VERSIONS.get(c.getinfo(pycurl.INFO_HTTP_VERSION)),
            "headers": self.headers, "body_len": self.body_len,
            "body_sha256": self.sha.hexdigest(),
            "timings": {"total_ms": ms(c, pycurl.TOTAL_TIME),
                        "connect_ms": ms(c, pycurl.CONNECT_TIME),
                        "tls_ms": ms(c, pycurl.APPCONNECT_TIME)},
            "trace": self.trace.text()}


def ms(c: pycurl.Curl, info: int) -> float:
    return round(c.getinfo(info) * 1000, 3)


def new_handle(handles: list, share) -> pycurl.Curl:
    c = pycurl.Curl()
    handles.append(c)
    if share is not None:   # pycurl refuses a second SHARE; reset() keeps this one
        c.setopt(pycurl.SHARE, share)
    return c


def configure(c: pycurl.Curl, t: Transfer, job: dict) -> None:
    req = t.req
    c.reset()   # keeps the handle's live connections, session cache and share
    c.setopt(pycurl.URL, req["url"])
    c.setopt(pycurl.HTTP_VERSION, HTTP_VERSIONS[req["http_version"]])
    c.setopt(pycurl.PROXY, "")   # never a proxy from the environment
    if job["ca_file"] is not None:
        c.setopt(pycurl.CAINFO, job["ca_file"])
    c.setopt(pycurl.CAPATH, None)   # the CA file is the only trust anchor
    c.setopt(pycurl.SSL_VERIFYPEER, 1)
    c.setopt(pycurl.SSL_VERIFYHOST, 2)
    c.setopt(pycurl.TIMEOUT_MS, job["timeout_ms"])
    c.setopt(pycurl.CONNECTTIMEOUT_MS, job["timeout_ms"])
    c.setopt(pycurl.NOSIGNAL, 1)
    c.setopt(pycurl.VERBOSE, 1)
    c.setopt(pycurl.DEBUGFUNCTION, t.on_debug)
    c.setopt(pycurl.HEADERFUNCTION, t.on_header)
    c.setopt(pycurl.WRITEFUNCTION, t.on_write)
    # "name;" is how curl sends a header with an empty value
    headers = req.get("headers") or []
    c.setopt(pycurl.HTTPHEADER, [f"{n}: {v}" if v else f"{n};" for n, v in headers])
    method, body = req["method"], req.get("body_b64")
    if method == "HEAD":
        c.setopt(pycurl.NOBODY, 1)
    elif body is not None or method == "POST":
        c.setopt(pycurl.POSTFIELDS, base64.b64decode(body or ""))  # pycurl sets the size too
        if method != "POST":
            c.setopt(pycurl.CUSTOMREQUEST, method)
    elif method != "GET":
        c.setopt(pycurl.CUSTOMREQUEST, method)
    if job["connection"] == "fresh":
        c.setopt(pycurl.FRESH_CONNECT, 1)
        c.setopt(pycurl.FORBID_REUSE, 1)
    elif job["mode"] == "parallel":
        c.setopt(pycurl.PIPEWAIT, 1)   # wait for the first connection and multiplex on it
    if job["tls_session_cache"] == "separate":
        c.setopt(pycurl.SSL_SESSIONID_CACHE, 0)


def run_sequential(job: dict, transfers: list[Transfer], share, handles: list) -> None:
    c = None
    for t in transfers:
        if c is None or job["connection"] == "fresh":
            c = new_handle(handles, share)
        configure(c, t, job)
        try:
            c.perform()
            t.finish(c, 0, "")
        except pycurl.error as exc:
            t.finish(c, exc.args[0], exc.args[1] if len(exc.args) > 1 else "")


def run_parallel(job: dict, transfers: list[Transfer], share, handles: list, multi) -> None:
    multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
    by_handle = {}
    for t in transfers:
        c = new_handle(handles, share)
        configure(c, t, job)
        multi.add_handle(c)
        by_handle[id(c)] = (c, t)
    pending = len(transfers)
    while pending:
        ret, _ = multi.perform()
        while ret == pycurl.E_CALL_MULTI_PERFORM:
            ret, _ = multi.perform()
        while True:
            queued, done, failed = multi.info_read()
            for c in done:
                by_handle[id(c)][1].finish(c, 0, "")
            for c, code, message in failed:
                by_handle[id(c)][1].finish(c, code, message)
            pending -= len(done) + len(failed)
            if not queued:
                break
        if pending:
            multi.select(0.1)


def run_job(job: dict) -> dict:
    transfers = [Transfer(r) for r in job["requests"]]
    handles: list[pycurl.Curl] = []
    share = multi = None
    try:
        if job["tls_session_cache"] == "shared":
            share = pycurl.CurlShare()
            share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        if job["mode"] == "parallel":
            multi = pycurl.CurlMulti()
            run_parallel(job, transfers, share, handles, multi)
        else:
            run_sequential(job, transfers, share, handles)
    finally:   # close everything, so the server sees every connection end
        for c in handles:
            if multi is not None:
                try:
                    multi.remove_handle(c)
                except pycurl.error:   # never added
                    pass
            c.close()
        for obj in (multi, share):
            if obj is not None:
                obj.close()
    outcomes = [t.result for t in transfers]
    trace = "\n".join(f"== request {i}: {t.req['method']} {t.req['url']}\n{o['trace']}"
                      for i, (t, o) in enumerate(zip(transfers, outcomes)))
    return {"type": "result", "id": job["id"], "outcomes": outcomes, "trace": trace}


def answer(line: bytes) -> dict:
    try:
        job = json.loads(line)
    except ValueError as exc:
        return {"type": "error", "id": None, "message": f"invalid JSON: {exc}"}
    job_id = job.get("id") if isinstance(job, dict) and isinstance(job.get("id"), str) else None
    wrong = problem(job)
    if wrong:
        return {"type": "error", "id": job_id, "message": wrong}
    try:
        return run_job(job)
    except Exception as exc:   # a bug here, not a client verdict
        traceback.print_exc(file=sys.stderr)
        return {"type": "error", "id": job_id, "message": f"adapter failed: {exc!r}"}


def main() -> int:
    return serve(hello(), answer)


if __name__ == "__main__":
    sys.exit(main())
