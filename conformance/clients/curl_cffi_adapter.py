"""Client adapter: curl_cffi's bundled libcurl-impersonate (BoringSSL), driven through
curl_cffi's low-level bindings (Curl, CurlShare, and the curl_multi_* calls of its `lib`).
Same job semantics as pycurl_adapter. No browser is impersonated (no curl_easy_impersonate,
no CURL_IMPERSONATE): what remains are the defaults this libcurl was built with, which for
HTTP/2 are Chrome-shaped (SETTINGS, windows, pseudo-header order) and add no Accept header.
No "push" capability: this libcurl's SETTINGS always carry ENABLE_PUSH=0, even with a
CURLMOPT_PUSHFUNCTION set, so the application never gets to accept or refuse a push.

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
from curl_cffi import Curl, CurlHttpVersion, CurlMOpt, CurlOpt, CurlShare  # noqa: E402
from curl_cffi import ffi, lib  # noqa: E402
from curl_cffi.curl import DEFAULT_CACERT  # noqa: E402

from conformance.clients.curl_multi import Multi, curl_proxy_type, run_phases  # noqa: E402
from conformance.clients.jobs import (PROTOCOL, SSLOPT_EARLYDATA, CurlTransfer,  # noqa: E402
                                      answer_with, curl_connect_to, curl_result, early_data_supported)
from conformance.clients.jsonlines import serve  # noqa: E402

CURL_ERROR_SIZE = 256
CURLMSG_DONE = 1
CURLPIPE_MULTIPLEX = 2
CURLOPT_TRAILERFUNCTION, CURL_TRAILERFUNC_OK = 20283, 0

HTTP_VERSIONS = {"h2": CurlHttpVersion.V2TLS,
                 "h2-prior-knowledge": CurlHttpVersion.V2_PRIOR_KNOWLEDGE,
                 "http1.1": CurlHttpVersion.V1_1,
                 "h2-or-http1.1": CurlHttpVersion.V2_0}   # http://: the h2c Upgrade


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
    caps = ["http1.1", "trace", "phases", "pause", "cancel", "streaming-upload", "trailers", "resolve"]
    caps += ["h2", "alpn"] if h2 and tls else []
    caps += ["h2c", "parallel"] if h2 else []
    caps += ["tls-session-cache"] if tls else []
    # libcurl sends early data with OpenSSL, GnuTLS and wolfSSL, not with BoringSSL
    boringssl = b"BoringSSL" in (info.ssl_version or b"")
    caps += ["early-data"] if tls and not boringssl and early_data_supported(info.version_num) else []
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

    def __init__(self, req: dict, index: int):
        super().__init__(req, index)
        self.errbuf = ffi.new("char[]", CURL_ERROR_SIZE)
        self.trailer_callback = None   # kept alive while libcurl may call it
        self.connect_to = ffi.NULL     # the CURLOPT_CONNECT_TO list, freed with the handle

    def message(self, code: int) -> str:
        message = ffi.string(self.errbuf).decode("utf-8", "replace")
        if code and not message:
            message = ffi.string(lib.curl_easy_strerror(code)).decode()
        return message

    def trailers_for_libcurl(self, slist, _userdata) -> int:
        for line in self.on_trailers():
            slist[0] = lib.curl_slist_append(slist[0], line.encode())
        return CURL_TRAILERFUNC_OK


def multi_check(code: int, call: str) -> None:
    if code:
        raise RuntimeError(f"{call}: {ffi.string(lib.curl_multi_strerror(code)).decode()}")


class CffiMulti(Multi):
    """The job's multi handle and its easy handles, through curl_cffi's bindings."""

    def __init__(self, job: dict, share: CurlShare | None):
        self.job, self.share = job, share
        self.multi = lib.curl_multi_init()
        # a long option goes through curl_multi_setopt's varargs as a pointer-sized value
        multi_check(lib.curl_multi_setopt(self.multi, CurlMOpt.PIPELINING,
                                          ffi.cast("void *", CURLPIPE_MULTIPLEX)), "PIPELINING")
        self.handles: dict[int, Curl] = {}   # id(transfer) -> its easy handle
        self.transfers = {}   # keyed by the easy handle curl_cffi keeps in Curl._curl, as AsyncCurl does
        self.running, self.queued = ffi.new("int *"), ffi.new("int *")

    def start(self, t: Transfer, parallel: bool) -> None:
        c = Curl()
        self.handles[id(t)], self.transfers[c._curl] = c, t
        if self.share is not None:   # attached as curl_cffi's duphandle does
            c.setopt(CurlOpt.SHARE, self.share._curl_share)
        configure(c, t, self.job, parallel)
        multi_check(lib.curl_multi_add_handle(self.multi, c._curl), "curl_multi_add_handle")

    def stop(self, t: Transfer) -> None:
        multi_check(lib.curl_multi_remove_handle(self.multi, self.handles[id(t)]._curl),
                    "curl_multi_remove_handle")

    def perform(self) -> list[tuple[Transfer, int, str]]:
        multi_check(lib.curl_multi_perform(self.multi, self.running), "curl_multi_perform")
        ended = []
        while (msg := lib.curl_multi_info_read(self.multi, self.queued)) != ffi.NULL:
            if msg.msg == CURLMSG_DONE:
                t = self.transfers[msg.easy_handle]
                ended.append((t, msg.data.result, t.message(msg.data.result)))
        return ended

    def wait(self, seconds: float) -> bool:   # curl_multi_poll also keeps libcurl's own timers
        ready = ffi.new("int *")
        multi_check(lib.curl_multi_poll(self.multi, ffi.NULL, 0, round(seconds * 1000), ready),
                    "curl_multi_poll")
        return ready[0] > 0

    def release(self, t: Transfer) -> None:
        c = self.handles.pop(id(t))
        lib.curl_multi_remove_handle(self.multi, c._curl)   # harmless if already removed
        c.reset()   # drops the callbacks first: curl_cffi frees their data before cleanup
        c.close()

    def pause(self, t: Transfer, bits: int) -> None:
        lib.curl_easy_pause(self.handles[id(t)]._curl, bits)

    def getinfo(self, t: Transfer):
        return self.handles[id(t)].getinfo

    def close(self) -> None:
        """Close everything, so the server sees every connection end."""
        for c in self.handles.values():
            lib.curl_multi_remove_handle(self.multi, c._curl)   # harmless if already removed
            c.reset()   # drops the callbacks first: curl_cffi frees their data before cleanup
            c.close()
        for t in self.transfers.values():
            lib.curl_slist_free_all(t.connect_to)   # a no-op for NULL
        lib.curl_multi_cleanup(self.multi)


def configure(c: Curl, t: Transfer, job: dict, parallel: bool) -> None:
    req = t.req
    c.setopt(CurlOpt.ERRORBUFFER, t.errbuf)
    c.setopt(CurlOpt.URL, req["url"])
    c.setopt(CurlOpt.HTTP_VERSION, HTTP_VERSIONS[req["http_version"]])
    c.setopt(CurlOpt.PROXY, "")   # never a proxy from the environment
    if job.get("resolve"):
        c.setopt(CurlOpt.RESOLVE, job["resolve"])
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
    elif t.upload is not None:   # a body of unknown length, from the read callback
        c.setopt(CurlOpt.POST if method == "POST" else CurlOpt.UPLOAD, 1)
        c.setopt(CurlOpt.READFUNCTION, t.on_read)
        if req.get("trailers") is not None:   # curl_cffi's setopt knows no TRAILERFUNCTION
            t.trailer_callback = ffi.callback("int(struct curl_slist **, void *)",
                                              t.trailers_for_libcurl)
            lib._curl_easy_setopt(c._curl, CURLOPT_TRAILERFUNCTION, t.trailer_callback)
        if method not in ("POST", "PUT"):
            c.setopt(CurlOpt.CUSTOMREQUEST, method)
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
    elif parallel:
        c.setopt(CurlOpt.PIPEWAIT, 1)   # wait for the first connection and multiplex on it
    if job["tls_session_cache"] == "separate":
        c.setopt(CurlOpt.SSL_SESSIONID_CACHE, 0)
    if job.get("early_data"):
        c.setopt(CurlOpt.SSL_OPTIONS, SSLOPT_EARLYDATA)
        t.early_data = True
    optional_fields(c, t, job)


def optional_fields(c: Curl, t: Transfer, job: dict) -> None:
    """The request fields of docs/clients.md that need a capability."""
    req = t.req
    if req.get("target"):
        c.setopt(CurlOpt.REQUEST_TARGET, req["target"])
    if req.get("expect_timeout_ms"):
        c.setopt(CurlOpt.EXPECT_100_TIMEOUT_MS, req["expect_timeout_ms"])
    if req.get("connect_to"):   # curl_cffi's setopt builds no slist for this option
        t.connect_to = lib.curl_slist_append(ffi.NULL, curl_connect_to(req).encode())
        lib._curl_easy_setopt(c._curl, CurlOpt.CONNECT_TO, t.connect_to)
    if req.get("proxy"):
        c.setopt(CurlOpt.PROXY, req["proxy"])
        c.setopt(CurlOpt.PROXYTYPE, curl_proxy_type(version_info().version_num))
        c.setopt(CurlOpt.HTTPPROXYTUNNEL, 1)   # CONNECT even for an http:// URL
        c.setopt(CurlOpt.PROXY_CAINFO, job["ca_file"] or DEFAULT_CACERT)
        c.setopt(CurlOpt.PROXY_CAPATH, ffi.NULL)


def run_job(job: dict) -> dict:
    transfers = [Transfer(r, i) for i, r in enumerate(job["requests"])]
    share = multi = None
    try:
        if job["tls_session_cache"] == "shared":
            share = CurlShare(dns=False)   # the TLS session cache only, as in pycurl_adapter
        multi = CffiMulti(job, share)
        run_phases(job, transfers, multi)
    finally:
        if multi is not None:
            multi.close()
        if share is not None:
            share.close()
    return curl_result(job, transfers)


def main() -> int:
    greeting = hello()
    return serve(greeting, answer_with(run_job, greeting["capabilities"]))


if __name__ == "__main__":
    sys.exit(main())
