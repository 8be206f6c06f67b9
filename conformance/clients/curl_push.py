"""Server push in the libcurl adapters (docs/clients.md `push`), through ctypes: neither pycurl
nor curl_cffi binds CURLMOPT_PUSHFUNCTION. With a push callback set, libcurl enables push
(SETTINGS_ENABLE_PUSH=1) and asks the callback about each valid PUSH_PROMISE; an accepted push
runs on an easy handle libcurl creates as a copy of the parent's, which this module gives its
own callbacks, reports and frees. Standard library only, like jobs.py.
"""
from __future__ import annotations

import ctypes
import sys
import traceback

from conformance.clients.jobs import CurlTransfer

CURLMOPT_PUSHFUNCTION = 20014
CURL_PUSH_OK, CURL_PUSH_DENY = 0, 1
CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION, CURLOPT_DEBUGFUNCTION = 20011, 20079, 20094
CURLOPT_ERRORBUFFER, CURLOPT_PRIVATE, CURLOPT_NOPROGRESS = 10010, 10103, 43
CURLINFO_PRIVATE = 0x100015
CURLINFO_LONG, CURLINFO_DOUBLE = 0x200000, 0x300000
CURL_ERROR_SIZE = 256

PUSH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                 ctypes.c_void_p, ctypes.c_void_p)
DATA_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                 ctypes.c_void_p)
DEBUG_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                  ctypes.c_size_t, ctypes.c_void_p)


def libcurl(module_file: str) -> ctypes.CDLL:
    """The libcurl a Python extension module uses: its own symbols and its dependencies'."""
    lib = ctypes.CDLL(module_file)
    lib.curl_pushheader_bynum.restype = ctypes.c_char_p
    lib.curl_pushheader_bynum.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return lib


def getinfo(lib: ctypes.CDLL, easy: int, info: int):
    """curl_easy_getinfo for a long, double or pointer CURLINFO."""
    kind = info & 0xF00000
    value = ctypes.c_long() if kind == CURLINFO_LONG else ctypes.c_double() if kind == CURLINFO_DOUBLE \
        else ctypes.c_void_p()
    lib.curl_easy_getinfo(ctypes.c_void_p(easy), ctypes.c_int(info), ctypes.byref(value))
    return value.value or 0


class Pushed:
    """One PUSH_PROMISE libcurl asked about, and the pushed response if it was accepted."""

    def __init__(self, parent: int, fields: list[list[str]], accepted: bool):
        self.parent, self.fields, self.accepted = parent, fields, accepted
        value = dict(fields)
        url = f"{value.get(':scheme', '')}://{value.get(':authority', '')}{value.get(':path', '')}"
        self.transfer = CurlTransfer({"method": value.get(":method", ""), "url": url})
        self.errbuf = ctypes.create_string_buffer(CURL_ERROR_SIZE)
        self.callbacks: list = []   # kept alive while libcurl may call them

    def report(self) -> dict:
        entry = {"parent": self.parent, "request_headers": self.fields, "accepted": self.accepted}
        if self.accepted:
            result = self.transfer.result or {
                "ok": False, "status": None, "http_version": None, "headers": [], "trailers": [],
                "body_len": self.transfer.body_len, "body_sha256": self.transfer.sha.hexdigest(),
                "trace": self.transfer.trace.text(),
                "error": {"code": None, "name": "INCOMPLETE", "class": "other",
                          "message": "the pushed response had not ended when the job did"}}
            entry.update({k: v for k, v in result.items() if k != "timings"})
        return entry


class Pushes:
    """The push callback of one multi handle and the transfers it accepted.

    `parent_index(easy)` names the request whose easy handle carried a promise (None: not
    ours); `private(pushed)`, if given, is the CURLOPT_PRIVATE a pushed handle gets (pycurl
    reads it to name the handle that finished)."""

    def __init__(self, lib: ctypes.CDLL, multi: int, accept: bool, parent_index, private=None):
        self.lib, self.multi, self.accept = lib, multi, accept
        self.parent_index, self.private = parent_index, private
        self.all: list[Pushed] = []
        self.running: dict[int, Pushed] = {}   # pushed easy handle -> its record
        self.handles: list[int] = []           # every pushed easy handle, to free at the end
        self.callback = PUSH_CALLBACK(self.on_push)
        code = lib.curl_multi_setopt(ctypes.c_void_p(multi), ctypes.c_int(CURLMOPT_PUSHFUNCTION),
                                     self.callback)
        if code:
            raise RuntimeError(f"curl_multi_setopt(CURLMOPT_PUSHFUNCTION) failed: {code}")

    def on_push(self, parent, easy, count, headers, _userp) -> int:
        try:
            index = self.parent_index(parent)
            fields = [split(self.lib.curl_pushheader_bynum(headers, i)) for i in range(count)]
            pushed = Pushed(index, fields, self.accept and index is not None)
            self.all.append(pushed)
            pushed.transfer.note(f"push promised on the stream of request {index}: "
                                 + ("accepted" if pushed.accepted else "refused"))
            if not pushed.accepted:
                return CURL_PUSH_DENY
            self.adopt(easy, pushed)
            return CURL_PUSH_OK
        except Exception:   # never let an exception cross into libcurl
            traceback.print_exc(file=sys.stderr)
            return CURL_PUSH_DENY

    def adopt(self, easy: int, pushed: Pushed) -> None:
        """The pushed handle copies the parent's options: give it its own callbacks and buffer."""
        t = pushed.transfer
        pushed.callbacks = [
            DATA_CALLBACK(lambda ptr, size, n, _: t.on_write(ctypes.string_at(ptr, size * n))),
            DATA_CALLBACK(lambda ptr, size, n, _: t.on_header(ctypes.string_at(ptr, size * n))),
            DEBUG_CALLBACK(lambda _, kind, ptr, size, __: t.on_debug(kind, ctypes.string_at(ptr, size)) or 0)]
        for option, value in ((CURLOPT_WRITEFUNCTION, pushed.callbacks[0]),
                              (CURLOPT_HEADERFUNCTION, pushed.callbacks[1]),
                              (CURLOPT_DEBUGFUNCTION, pushed.callbacks[2]),
                              (CURLOPT_ERRORBUFFER, pushed.errbuf),
                              (CURLOPT_NOPROGRESS, ctypes.c_long(1))):
            self.lib.curl_easy_setopt(ctypes.c_void_p(easy), ctypes.c_int(option), value)
        if self.private is not None:
            self.lib.curl_easy_setopt(ctypes.c_void_p(easy), ctypes.c_int(CURLOPT_PRIVATE),
                                      ctypes.c_void_p(self.private(easy)))
        self.running[easy] = pushed
        self.handles.append(easy)

    def finished(self, easy: int, code: int) -> bool:
        """Record a pushed transfer libcurl finished; False if `easy` is not a pushed handle."""
        pushed = self.running.pop(easy, None)
        if pushed is None:
            return False
        message = pushed.errbuf.value.decode("utf-8", "replace")
        pushed.transfer.finish(lambda info: getinfo(self.lib, easy, info), code, message)
        self.lib.curl_multi_remove_handle(ctypes.c_void_p(self.multi), ctypes.c_void_p(easy))
        return True

    def pending(self, parents: set[int]) -> bool:
        """Is a push accepted on one of these requests still running?"""
        return any(p.parent in parents for p in self.running.values())

    def close(self) -> None:
        """Free every pushed handle (libcurl leaves that to the application)."""
        for easy in self.handles:
            self.lib.curl_multi_remove_handle(ctypes.c_void_p(self.multi), ctypes.c_void_p(easy))
            self.lib.curl_easy_cleanup(ctypes.c_void_p(easy))
        self.handles.clear()


def split(header: bytes) -> list[str]:
    """curl_pushheader_bynum's "name:value" (":path:/x" for a pseudo-header) as [name, value]."""
    text = header.decode("latin-1")
    at = text.index(":", 1)
    return [text[:at], text[at + 1:]]
