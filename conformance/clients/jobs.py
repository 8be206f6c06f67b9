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
import traceback

TRACE_CAP = 64 * 1024
HTTP_VERSIONS = ("h2", "h2-prior-knowledge", "http1.1", "h2-or-http1.1")
CHOICES = {"mode": ("sequential", "parallel"), "connection": ("reuse", "fresh"),
           "tls_session_cache": ("shared", "separate")}
JOB_FIELDS = {"type", "id", "timeout_ms", "ca_file", "requests", *CHOICES}
REQ_FIELDS = {"method", "url", "headers", "body_b64", "http_version", "target", "connect_to",
              "proxy", "protocol"}
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

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
        wrong = request_problem(f"requests[{i}]", r)
        if wrong:
            return wrong
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
    return optional_problem(where, r)


OPTIONAL = {"target": re.compile(r"^\*$"), "connect_to": re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):[0-9]+$"),
            "proxy": re.compile(r"^https://\S+$"), "protocol": TOKEN}


def optional_problem(where: str, r: dict) -> str | None:
    """The optional request fields (docs/clients.md), when present."""
    for key, pattern in OPTIONAL.items():
        value = r.get(key)
        if value is not None and not (isinstance(value, str) and pattern.match(value)):
            return f"{where}.{key} must match {pattern.pattern}, got {value!r}"
    return None


# The curl family (libcurl's CURLPROXY_* and version numbers, curl/curl.h)
CURLPROXY_HTTPS, CURLPROXY_HTTPS2 = 2, 3   # HTTPS2: libcurl 8.1.0 and later
LIBCURL_HTTPS2_PROXY = 0x080100


def curl_connect_to(req: dict) -> str:
    """CURLOPT_CONNECT_TO's 'HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT' for `connect_to`."""
    scheme, _, rest = req["url"].partition("://")
    hostport = rest.split("/", 1)[0].rpartition("@")[2]
    if not re.search(r":[0-9]+$", hostport):
        hostport += ":443" if scheme == "https" else ":80"
    return f"{hostport}:{req['connect_to']}"


def curl_proxy_type(version_num: int) -> int:
    """HTTP/2 to the proxy where libcurl can (CURLPROXY_HTTPS2), else HTTP/1.1 (CURLPROXY_HTTPS)."""
    return CURLPROXY_HTTPS2 if version_num >= LIBCURL_HTTPS2_PROXY else CURLPROXY_HTTPS


def fields_problem(where: str, got: set, known: set, required: set) -> str | None:
    unknown, missing = sorted(got - known), sorted(required - got)
    if unknown:
        return f"{where}: unknown field(s) {', '.join(unknown)}"
    if missing:
        return f"{where}: missing field(s) {', '.join(missing)}"
    return None


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


def answer_with(run_job):
    """An `answer(line)` for jsonlines.serve: parse, check, run, and turn a bug into an error."""
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
# CURL_HTTP_VERSION_1_0/1_1/2_0. The protocol knows "1.1", "2" and null only: an HTTP/1.0
# reply is reported as "1.1".
SEEN_VERSIONS = {1: "1.1", 2: "1.1", 3: "2"}


class CurlTransfer:
    """One request's outcome, fed by the libcurl callbacks."""

    def __init__(self, req: dict):
        self.req = req
        self.headers: list[list[str]] = []
        self.sha, self.body_len, self.trace = hashlib.sha256(), 0, Trace()
        self.result: dict | None = None

    def on_header(self, raw: bytes) -> int:
        line = raw.decode("latin-1").rstrip("\r\n")
        if line.startswith("HTTP/"):   # a new (interim or final) response starts
            self.headers = []
        elif line[:1] in (" ", "\t") and self.headers:   # obs-fold continuation
            self.headers[-1][1] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            self.headers.append([name.strip().lower(), value.strip()])
        return len(raw)

    def on_write(self, data: bytes) -> int:
        self.sha.update(data)
        self.body_len += len(data)
        return len(data)

    def on_debug(self, kind: int, data: bytes) -> None:
        if kind in SSL_EVENTS:
            return
        if kind in DATA_EVENTS:
            self.trace.add(f"{DATA_EVENTS[kind]}, {len(data)} bytes\n")
        else:
            prefix = TEXT_PREFIX.get(kind, "? ")
            lines = data.decode("utf-8", "replace").splitlines() or [""]
            self.trace.add("".join(f"{prefix}{line}\n" for line in lines))

    def finish(self, getinfo, code: int, message: str) -> None:
        """Record the outcome; `getinfo(CURLINFO)` reads the handle, `code` is the
        CURLcode (0 = success)."""
        status = getinfo(INFO_RESPONSE_CODE)
        error = curl_error(code, message) if code else None
        self.result = {
            "ok": not code, "error": error, "status": status or None,
            "http_version": SEEN_VERSIONS.get(getinfo(INFO_HTTP_VERSION)),
            "headers": self.headers, "body_len": self.body_len,
            "body_sha256": self.sha.hexdigest(),
            "timings": {"total_ms": round(getinfo(INFO_TOTAL_TIME) * 1000, 3),
                        "connect_ms": round(getinfo(INFO_CONNECT_TIME) * 1000, 3),
                        "tls_ms": round(getinfo(INFO_APPCONNECT_TIME) * 1000, 3)},
            "trace": self.trace.text()}


def curl_result(job: dict, transfers: list[CurlTransfer]) -> dict:
    """The `result` message once every transfer has finished."""
    outcomes = [t.result for t in transfers]
    trace = "\n".join(f"== request {i}: {t.req['method']} {t.req['url']}\n{o['trace']}"
                      for i, (t, o) in enumerate(zip(transfers, outcomes)))
    return {"type": "result", "id": job["id"], "outcomes": outcomes, "trace": trace}
