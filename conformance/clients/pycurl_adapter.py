"""The reference client adapter: libcurl through pycurl, speaking docs/clients.md.

python -m conformance.clients.pycurl_adapter   (JSON lines on stdin/stdout)
"""
from __future__ import annotations

import base64
import re
import sys

import pycurl

from conformance.clients.jobs import (CurlTransfer, answer_with, curl_connect_to, curl_proxy_type,
                                      curl_result)
from conformance.clients.jsonlines import serve

PROTOCOL = 1

HTTP_VERSIONS = {"h2": pycurl.CURL_HTTP_VERSION_2TLS,
                 "h2-prior-knowledge": pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
                 "http1.1": pycurl.CURL_HTTP_VERSION_1_1,
                 "h2-or-http1.1": pycurl.CURL_HTTP_VERSION_2TLS}


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
    caps += ["asterisk-form", "connect-to"] + (["https-proxy"] if "HTTPS_PROXY" in features else [])
    return {"type": "hello", "protocol": PROTOCOL,
            "client": {"name": "pycurl", "version": pycurl.version, "libcurl": info[1],
                       "tls": info[5], "nghttp2": nghttp2.group(1) if nghttp2 else None,
                       "features": features},
            "capabilities": caps}


def finish(t: CurlTransfer, c: pycurl.Curl, code: int, message: str) -> None:
    """Record the outcome; `code` is the CURLcode (0 = success)."""
    t.finish(c.getinfo, code, message or c.errstr())


def new_handle(handles: list, share) -> pycurl.Curl:
    c = pycurl.Curl()
    handles.append(c)
    if share is not None:   # pycurl refuses a second SHARE; reset() keeps this one
        c.setopt(pycurl.SHARE, share)
    return c


def configure(c: pycurl.Curl, t: CurlTransfer, job: dict) -> None:
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
    optional_fields(c, req, job)


def optional_fields(c: pycurl.Curl, req: dict, job: dict) -> None:
    """The request fields of docs/clients.md that need a capability."""
    if req.get("target"):
        c.setopt(pycurl.REQUEST_TARGET, req["target"])
    if req.get("connect_to"):
        c.setopt(pycurl.CONNECT_TO, [curl_connect_to(req)])
    if req.get("proxy"):
        c.setopt(pycurl.PROXY, req["proxy"])
        c.setopt(pycurl.PROXYTYPE, curl_proxy_type(pycurl.version_info()[2]))
        c.setopt(pycurl.HTTPPROXYTUNNEL, 1)   # CONNECT even for an http:// URL
        if job["ca_file"] is not None:
            c.setopt(pycurl.PROXY_CAINFO, job["ca_file"])
        c.setopt(pycurl.PROXY_CAPATH, None)


def run_sequential(job: dict, transfers: list[CurlTransfer], share, handles: list) -> None:
    c = None
    for t in transfers:
        if c is None or job["connection"] == "fresh":
            c = new_handle(handles, share)
        configure(c, t, job)
        try:
            c.perform()
            finish(t, c, 0, "")
        except pycurl.error as exc:
            finish(t, c, exc.args[0], exc.args[1] if len(exc.args) > 1 else "")


def run_parallel(job: dict, transfers: list[CurlTransfer], share, handles: list, multi) -> None:
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
                finish(by_handle[id(c)][1], c, 0, "")
            for c, code, message in failed:
                finish(by_handle[id(c)][1], c, code, message)
            pending -= len(done) + len(failed)
            if not queued:
                break
        if pending:
            multi.select(0.1)


def run_job(job: dict) -> dict:
    transfers = [CurlTransfer(r) for r in job["requests"]]
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
    return curl_result(job, transfers)


def main() -> int:
    return serve(hello(), answer_with(run_job))


if __name__ == "__main__":
    sys.exit(main())
