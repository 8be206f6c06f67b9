"""The reference client adapter: libcurl through pycurl, speaking docs/clients.md.

python -m conformance.clients.pycurl_adapter   (JSON lines on stdin/stdout)
"""
from __future__ import annotations

import base64
import ctypes
import re
import sys

import pycurl

from conformance.clients.curl_multi import Multi, curl_proxy_type, run_phases
from conformance.clients.curl_push import CURLINFO_PRIVATE, Pushes, getinfo, libcurl
from conformance.clients.jobs import (PROTOCOL, SSLOPT_EARLYDATA, CurlTransfer, answer_with,
                                      curl_connect_to, curl_result, early_data_supported)
from conformance.clients.jsonlines import serve

CURL_MULTI_MAGIC = 0x000bab1e   # the first field of libcurl's struct Curl_multi
HTTP_VERSIONS = {"h2": pycurl.CURL_HTTP_VERSION_2TLS,
                 "h2-prior-knowledge": pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
                 "http1.1": pycurl.CURL_HTTP_VERSION_1_1,
                 "h2-or-http1.1": pycurl.CURL_HTTP_VERSION_2_0}   # http://: the h2c Upgrade


def hello() -> dict:
    info = pycurl.version_info()
    bits = info[4]
    flags = sorted((getattr(pycurl, n), n[len("VERSION_"):]) for n in dir(pycurl)
                   if n.startswith("VERSION_"))
    features = [name for flag, name in flags if bits & flag]
    nghttp2 = re.search(r"\bnghttp2/(\S+)", pycurl.version)
    h2, tls = "HTTP2" in features, "SSL" in features
    caps = ["http1.1", "trace", "phases", "pause", "cancel", "streaming-upload", "trailers", "resolve"]
    caps += ["h2", "alpn"] if h2 and tls else []
    caps += ["h2c", "parallel", "push"] if h2 else []
    caps += ["tls-session-cache"] if tls else []
    caps += ["early-data"] if tls and early_data_supported(info[2]) else []
    caps += ["asterisk-form", "connect-to"] + (["https-proxy"] if "HTTPS_PROXY" in features else [])
    return {"type": "hello", "protocol": PROTOCOL,
            "client": {"name": "pycurl", "version": pycurl.version, "libcurl": info[1],
                       "tls": info[5], "nghttp2": nghttp2.group(1) if nghttp2 else None,
                       "features": features},
            "capabilities": caps}


def libcurl_pointer(obj) -> int:
    """The CURL * or CURLM * a pycurl object wraps: pycurl's Curl and CurlMulti objects hold
    it right after their dict and weakref list (src/pycurl.h)."""
    offset = object.__basicsize__ + 2 * ctypes.sizeof(ctypes.c_void_p)
    return ctypes.c_void_p.from_address(id(obj) + offset).value


class PycurlMulti(Multi):
    """The job's multi handle and its easy handles, through pycurl."""

    def __init__(self, job: dict, share):
        self.job, self.share = job, share
        self.multi = pycurl.CurlMulti()
        self.multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self.handles: dict[int, pycurl.Curl] = {}     # id(transfer) -> its easy handle
        self.transfers: dict[int, CurlTransfer] = {}  # id(easy handle) -> its transfer
        self.stand_ins: dict[int, tuple[pycurl.Curl, int]] = {}   # for pushed handles, below
        if job.get("push"):
            self.lib = libcurl(pycurl._pycurl.__file__)
            multi = libcurl_pointer(self.multi)
            if ctypes.c_uint.from_address(multi).value != CURL_MULTI_MAGIC:
                raise RuntimeError("pycurl's CurlMulti layout is not the one expected")
            self.pushes = Pushes(self.lib, multi, job["push"] == "accept", self.parent_index,
                                 self.stand_in)

    def parent_index(self, easy: int) -> int | None:
        """pycurl makes each handle's CURLOPT_PRIVATE its Curl object."""
        t = self.transfers.get(getinfo(self.lib, easy, CURLINFO_PRIVATE))
        return None if t is None else t.index

    def stand_in(self, easy: int) -> int:
        """The CURLOPT_PRIVATE of a pushed handle: a Curl object of its own, which pycurl's
        info_read then names when the pushed transfer ends."""
        c = pycurl.Curl()
        self.stand_ins[id(c)] = (c, easy)
        return id(c)

    def ended(self, c: pycurl.Curl, code: int, message: str, out: list) -> None:
        if id(c) in self.transfers:
            out.append((self.transfers[id(c)], code, message or c.errstr()))
        else:
            self.pushes.finished(self.stand_ins[id(c)][1], code)

    def start(self, t: CurlTransfer, parallel: bool) -> None:
        c = pycurl.Curl()
        self.handles[id(t)], self.transfers[id(c)] = c, t
        if self.share is not None:
            c.setopt(pycurl.SHARE, self.share)
        configure(c, t, self.job, parallel)
        self.multi.add_handle(c)

    def stop(self, t: CurlTransfer) -> None:
        self.multi.remove_handle(self.handles[id(t)])

    def perform(self) -> list[tuple[CurlTransfer, int, str]]:
        ret, _ = self.multi.perform()
        while ret == pycurl.E_CALL_MULTI_PERFORM:
            ret, _ = self.multi.perform()
        ended: list = []
        while True:
            queued, done, failed = self.multi.info_read()
            for c in done:
                self.ended(c, 0, "", ended)
            for c, code, message in failed:
                self.ended(c, code, message, ended)
            if not queued:
                return ended

    def wait(self, seconds: float) -> bool:
        asked = self.multi.timeout()   # ms; -1: libcurl has no timer running
        return self.multi.select(min(seconds, asked / 1000) if asked >= 0 else seconds) > 0

    def release(self, t: CurlTransfer) -> None:
        c = self.handles.pop(id(t))
        try:
            self.multi.remove_handle(c)
        except pycurl.error:   # already removed (cancelled)
            pass
        c.close()

    def pause(self, t: CurlTransfer, bits: int) -> None:
        self.handles[id(t)].pause(bits)

    def getinfo(self, t: CurlTransfer):
        return self.handles[id(t)].getinfo

    def close(self) -> None:
        """Close everything, so the server sees every connection end."""
        if self.pushes:
            self.pushes.close()
        for c, _ in self.stand_ins.values():
            c.close()
        for c in self.handles.values():
            try:
                self.multi.remove_handle(c)
            except pycurl.error:   # already removed
                pass
            c.close()
        self.multi.close()


def configure(c: pycurl.Curl, t: CurlTransfer, job: dict, parallel: bool) -> None:
    req = t.req
    c.setopt(pycurl.URL, req["url"])
    c.setopt(pycurl.HTTP_VERSION, HTTP_VERSIONS[req["http_version"]])
    c.setopt(pycurl.PROXY, "")   # never a proxy from the environment
    if job.get("resolve"):
        c.setopt(pycurl.RESOLVE, job["resolve"])
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
    elif t.upload is not None:   # a body of unknown length, from the read callback
        c.setopt(pycurl.POST if method == "POST" else pycurl.UPLOAD, 1)
        c.setopt(pycurl.READFUNCTION, t.on_read)
        if req.get("trailers") is not None:
            c.setopt(pycurl.TRAILERFUNCTION, t.on_trailers)
        if method not in ("POST", "PUT"):
            c.setopt(pycurl.CUSTOMREQUEST, method)
    elif body is not None or method == "POST":
        c.setopt(pycurl.POSTFIELDS, base64.b64decode(body or ""))  # pycurl sets the size too
        if method != "POST":
            c.setopt(pycurl.CUSTOMREQUEST, method)
    elif method != "GET":
        c.setopt(pycurl.CUSTOMREQUEST, method)
    if job["connection"] == "fresh":
        c.setopt(pycurl.FRESH_CONNECT, 1)
        c.setopt(pycurl.FORBID_REUSE, 1)
    elif parallel:
        c.setopt(pycurl.PIPEWAIT, 1)   # wait for the first connection and multiplex on it
    if job["tls_session_cache"] == "separate":
        c.setopt(pycurl.SSL_SESSIONID_CACHE, 0)
    if job.get("early_data"):
        c.setopt(pycurl.SSL_OPTIONS, SSLOPT_EARLYDATA)
        t.early_data = True
    optional_fields(c, req, job)


def optional_fields(c: pycurl.Curl, req: dict, job: dict) -> None:
    """The request fields of docs/clients.md that need a capability."""
    if req.get("target"):
        c.setopt(pycurl.REQUEST_TARGET, req["target"])
    if req.get("expect_timeout_ms"):
        c.setopt(pycurl.EXPECT_100_TIMEOUT_MS, req["expect_timeout_ms"])
    if req.get("connect_to"):
        c.setopt(pycurl.CONNECT_TO, [curl_connect_to(req)])
    if req.get("proxy"):
        c.setopt(pycurl.PROXY, req["proxy"])
        c.setopt(pycurl.PROXYTYPE, curl_proxy_type(pycurl.version_info()[2]))
        c.setopt(pycurl.HTTPPROXYTUNNEL, 1)   # CONNECT even for an http:// URL
        if job["ca_file"] is not None:
            c.setopt(pycurl.PROXY_CAINFO, job["ca_file"])
        c.setopt(pycurl.PROXY_CAPATH, None)


def run_job(job: dict) -> dict:
    transfers = [CurlTransfer(r, i) for i, r in enumerate(job["requests"])]
    share = multi = None
    try:
        if job["tls_session_cache"] == "shared":
            share = pycurl.CurlShare()
            share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        multi = PycurlMulti(job, share)
        run_phases(job, transfers, multi)
    finally:   # close everything, so the server sees every connection end
        if multi is not None:
            multi.close()
        if share is not None:
            share.close()
    return curl_result(job, transfers, multi.pushes and [p.report() for p in multi.pushes.all])


def main() -> int:
    greeting = hello()
    return serve(greeting, answer_with(run_job, greeting["capabilities"]))


if __name__ == "__main__":
    sys.exit(main())
