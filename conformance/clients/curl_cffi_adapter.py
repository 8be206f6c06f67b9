"""Client adapter: curl_cffi's bundled libcurl-impersonate (BoringSSL), driven through
curl_cffi's low-level bindings (Curl, CurlShare, and the curl_multi_* calls of its `lib`).
Same job semantics as pycurl_adapter. No browser is impersonated (no curl_easy_impersonate,
no CURL_IMPERSONATE): what remains are the defaults this libcurl was built with, which for
HTTP/2 are Chrome-shaped (SETTINGS, windows, pseudo-header order) and add no Accept header.

python -m conformance.clients.curl_cffi_adapter   (JSON lines on stdin/stdout)
"""
from __future__ import annotations

import base64
import ctypes
import os
import sys

# libcurl-impersonate applies these to every new or reset handle: keep plain libcurl.
for _name in ("CURL_IMPERSONATE", "CURL_IMPERSONATE_HEADERS"):
    os.environ.pop(_name, None)

import curl_cffi  # noqa: E402
from curl_cffi import Curl, CurlError, CurlHttpVersion, CurlMOpt, CurlOpt, CurlShare  # noqa: E402
from curl_cffi import ffi, lib  # noqa: E402
from curl_cffi.curl import DEFAULT_CACERT  # noqa: E402

from conformance.clients.jobs import (CurlTransfer, answer_with, curl_connect_to,  # noqa: E402
                                      curl_proxy_type, curl_result)
from conformance.clients.jsonlines import serve  # noqa: E402

PROTOCOL = 1
CURL_ERROR_SIZE = 256
CURLMSG_DONE = 1
CURLPIPE_MULTIPLEX = 2

HTTP_VERSIONS = {"h2": CurlHttpVersion.V2TLS,
                 "h2-prior-knowledge": CurlHttpVersion.V2_PRIOR_KNOWLEDGE,
                 "http1.1": CurlHttpVersion.V1_1,
                 "h2-or-http1.1": CurlHttpVersion.V2TLS}


class VersionInfo(ctypes.Structure):
    """curl_version_info_data up to feature_names (CURLVERSION_ELEVENTH, libcurl 7.87+)."""
    _p, _i, _u = ctypes.c_char_p, ctypes.c_int, ctypes.c_uint
    _fields_ = [("age", _i), ("version", _p), ("version_num", _u), ("host", _p),
                ("features", _i), ("ssl_version", _p), ("ssl_version_num", ctypes.c_long),
                ("libz_version", _p), ("protocols", ctypes.POINTER(_p)),
                ("ares", _p), ("ares_num", _i), ("libidn", _p),
                ("iconv_ver_num", _i), ("libssh_version", _p),
                ("brotli_ver_num", _u), ("brotli_version", _p),
                ("nghttp2_ver_num", _u), ("nghttp2_version", _p), ("quic_version", _p),
                ("cainfo", _p), ("capath", _p), ("zstd_ver_num", _u), ("zstd_version", _p),
                ("hyper_version", _p), ("gsasl_version", _p),
                ("feature_names", ctypes.POINTER(_p))]


def version_info() -> VersionInfo:
    """curl_version_info() of the libcurl curl_cffi loaded (its bindings lack this call)."""
    func = ctypes.CDLL(curl_cffi._wrapper.__file__).curl_version_info
    func.restype, func.argtypes = ctypes.POINTER(VersionInfo), [ctypes.c_int]
    info = func(10).contents   # CURLVERSION_ELEVENTH
    if info.age < 10:
        raise RuntimeError(f"libcurl version info age {info.age}: too old for feature names")
    return info


def string_list(array) -> list[str]:
    """A NULL-terminated char * array."""
    out, i = [], 0
    while array[i]:
        out.append(array[i].decode())
        i += 1
    return out


def optional_text(value: bytes | None) -> str | None:
    return value.decode() if value else None


def hello() -> dict:
    info = version_info()
    features = string_list(info.feature_names)
    h2, tls = "HTTP2" in features, "SSL" in features
    caps = ["http1.1", "trace"]
    caps += ["h2", "alpn"] if h2 and tls else []
    caps += ["h2c", "parallel"] if h2 else []
    caps += ["tls-session-cache"] if tls else []
    caps += ["asterisk-form", "connect-to"] + (["https-proxy"] if "HTTPS-proxy" in features else [])
    version = f"curl_cffi/{curl_cffi.__version__} {ffi.string(lib.curl_version()).decode()}"
    return {"type": "hello", "protocol": PROTOCOL,
            "client": {"name": "curl_cffi", "version": version,
                       "libcurl": optional_text(info.version),
                       "tls": optional_text(info.ssl_version),
                       "nghttp2": optional_text(info.nghttp2_version), "features": features},
            "capabilities": caps}


class Transfer(CurlTransfer):
    """A CurlTransfer with the error buffer libcurl writes this transfer's message into."""

    def __init__(self, req: dict):
        super().__init__(req)
        self.errbuf = ffi.new("char[]", CURL_ERROR_SIZE)

    def done(self, c: Curl, code: int) -> None:
        message = ffi.string(self.errbuf).decode("utf-8", "replace")
        if code and not message:
            message = ffi.string(lib.curl_easy_strerror(code)).decode()
        self.finish(c.getinfo, code, message)


def new_handle(handles: list, share: CurlShare | None) -> Curl:
    c = Curl()
    handles.append(c)
    if share is not None:   # attached as curl_cffi's duphandle does; reset() keeps it
        c.setopt(CurlOpt.SHARE, share._curl_share)
    return c


def configure(c: Curl, t: Transfer, job: dict) -> None:
    req = t.req
    c.reset()   # keeps the handle's live connections, session cache and share
    c.setopt(CurlOpt.ERRORBUFFER, t.errbuf)
    c.setopt(CurlOpt.URL, req["url"])
    c.setopt(CurlOpt.HTTP_VERSION, HTTP_VERSIONS[req["http_version"]])
    c.setopt(CurlOpt.PROXY, "")   # never a proxy from the environment
    # no ca_file: curl_cffi's default bundle, which its perform() would set anyway
    c.setopt(CurlOpt.CAINFO, job["ca_file"] or DEFAULT_CACERT)
    c.setopt(CurlOpt.CAPATH, ffi.NULL)   # the CA file is the only trust anchor
    c.setopt(CurlOpt.SSL_VERIFYPEER, 1)
    c.setopt(CurlOpt.SSL_VERIFYHOST, 2)
    c.setopt(CurlOpt.TIMEOUT_MS, job["timeout_ms"])
    c.setopt(CurlOpt.CONNECTTIMEOUT_MS, job["timeout_ms"])
    c.setopt(CurlOpt.NOSIGNAL, 1)
    c.setopt(CurlOpt.VERBOSE, 1)
    c.setopt(CurlOpt.DEBUGFUNCTION, t.on_debug)
    c.setopt(CurlOpt.HEADERFUNCTION, t.on_header)
    c.setopt(CurlOpt.WRITEFUNCTION, t.on_write)
    # "name;" is how curl sends a header with an empty value
    headers = req.get("headers") or []
    c.setopt(CurlOpt.HTTPHEADER, [(f"{n}: {v}" if v else f"{n};").encode() for n, v in headers])
    method, body = req["method"], req.get("body_b64")
    if method == "HEAD":
        c.setopt(CurlOpt.NOBODY, 1)
    elif body is not None or method == "POST":
        data = base64.b64decode(body or "")
        c.setopt(CurlOpt.POSTFIELDSIZE_LARGE, len(data))   # the body may hold NUL bytes
        c.setopt(CurlOpt.COPYPOSTFIELDS, data)
        if method != "POST":
            c.setopt(CurlOpt.CUSTOMREQUEST, method)
    elif method != "GET":
        c.setopt(CurlOpt.CUSTOMREQUEST, method)
    if job["connection"] == "fresh":
        c.setopt(CurlOpt.FRESH_CONNECT, 1)
        c.setopt(CurlOpt.FORBID_REUSE, 1)
    elif job["mode"] == "parallel":
        c.setopt(CurlOpt.PIPEWAIT, 1)   # wait for the first connection and multiplex on it
    if job["tls_session_cache"] == "separate":
        c.setopt(CurlOpt.SSL_SESSIONID_CACHE, 0)
    optional_fields(c, req, job)


def optional_fields(c: Curl, req: dict, job: dict) -> None:
    """The request fields of docs/clients.md that need a capability."""
    if req.get("target"):
        c.setopt(CurlOpt.REQUEST_TARGET, req["target"])
    if req.get("connect_to"):   # curl_cffi's setopt builds no slist for this option
        slist = lib.curl_slist_append(ffi.NULL, curl_connect_to(req).encode())
        c._h2cs_slists = getattr(c, "_h2cs_slists", []) + [slist]   # freed in close_all
        lib._curl_easy_setopt(c._curl, CurlOpt.CONNECT_TO, slist)
    if req.get("proxy"):
        c.setopt(CurlOpt.PROXY, req["proxy"])
        c.setopt(CurlOpt.PROXYTYPE, curl_proxy_type(version_info().version_num))
        c.setopt(CurlOpt.HTTPPROXYTUNNEL, 1)   # CONNECT even for an http:// URL
        c.setopt(CurlOpt.PROXY_CAINFO, job["ca_file"] or DEFAULT_CACERT)
        c.setopt(CurlOpt.PROXY_CAPATH, ffi.NULL)


def run_sequential(job: dict, transfers: list[Transfer], share, handles: list) -> None:
    c = None
    for t in transfers:
        if c is None or job["connection"] == "fresh":
            c = new_handle(handles, share)
        configure(c, t, job)
        try:
            c.perform()
            t.done(c, 0)
        except CurlError as exc:
            t.done(c, int(exc.code))


def multi_check(code: int, call: str) -> None:
    if code:
        raise RuntimeError(f"{call}: {ffi.string(lib.curl_multi_strerror(code)).decode()}")


def run_parallel(job: dict, transfers: list[Transfer], share, handles: list, multi) -> None:
    # a long option goes through curl_multi_setopt's varargs as a pointer-sized value
    multi_check(lib.curl_multi_setopt(multi, CurlMOpt.PIPELINING,
                                      ffi.cast("void *", CURLPIPE_MULTIPLEX)), "PIPELINING")
    by_handle = {}   # keyed by the easy handle curl_cffi keeps in Curl._curl, as AsyncCurl does
    for t in transfers:
        c = new_handle(handles, share)
        configure(c, t, job)
        multi_check(lib.curl_multi_add_handle(multi, c._curl), "curl_multi_add_handle")
        by_handle[c._curl] = (c, t)
    running, queued = ffi.new("int *"), ffi.new("int *")
    pending = len(transfers)
    while pending:
        multi_check(lib.curl_multi_perform(multi, running), "curl_multi_perform")
        while (msg := lib.curl_multi_info_read(multi, queued)) != ffi.NULL:
            if msg.msg == CURLMSG_DONE:
                c, t = by_handle[msg.easy_handle]
                t.done(c, msg.data.result)
                pending -= 1
        if pending:
            multi_check(lib.curl_multi_poll(multi, ffi.NULL, 0, 100, ffi.NULL), "curl_multi_poll")


def close_all(handles: list[Curl], multi, share: CurlShare | None) -> None:
    """Close everything, so the server sees every connection end."""
    for c in handles:
        if multi is not None:
            lib.curl_multi_remove_handle(multi, c._curl)   # harmless if never added
        c.reset()   # drops the callbacks first: curl_cffi frees their data before cleanup
        c.close()
        for slist in getattr(c, "_h2cs_slists", []):
            lib.curl_slist_free_all(slist)
    if multi is not None:
        lib.curl_multi_cleanup(multi)
    if share is not None:
        share.close()


def run_job(job: dict) -> dict:
    transfers = [Transfer(r) for r in job["requests"]]
    handles: list[Curl] = []
    share = multi = None
    try:
        if job["tls_session_cache"] == "shared":
            share = CurlShare(dns=False)   # the TLS session cache only, as in pycurl_adapter
        if job["mode"] == "parallel":
            multi = lib.curl_multi_init()
            run_parallel(job, transfers, share, handles, multi)
        else:
            run_sequential(job, transfers, share, handles)
    finally:
        close_all(handles, multi, share)
    return curl_result(job, transfers)


def main() -> int:
    return serve(hello(), answer_with(run_job))


if __name__ == "__main__":
    sys.exit(main())
