"""The job loop of the libcurl adapters (pycurl, curl_cffi), the same for both bindings.

Every transfer of a job runs on one multi handle, so each phase finds the connections the
phases before it left in the multi's pool (docs/clients.md `phases`); a sequential phase runs
its transfers one at a time. Between calls into libcurl the loop lifts pauses and cancels
transfers as their requests ask. Standard library only, like jobs.py.
"""
from __future__ import annotations

import time

from conformance.clients.jobs import CurlTransfer, phases_of

# The longest wait between two calls into libcurl. A call after socket activity comes sooner
# (BUSY_POLL_S, doubling while nothing happens): libcurl sets no timer when, say, it has sent its
# GOAWAY and ends the transfer only on its next call.
POLL_S, BUSY_POLL_S = 0.01, 0.0002
# libcurl's CURLPROXY_* and version numbers (curl/curl.h)
CURLPROXY_HTTPS, CURLPROXY_HTTPS2 = 2, 3   # HTTPS2: libcurl 8.1.0 and later
LIBCURL_HTTPS2_PROXY = 0x080100


class Multi:
    """One multi handle, as the loop drives it; each binding implements these."""
    pushes = None   # a curl_push.Pushes when the job enables push

    def start(self, t: CurlTransfer, parallel: bool) -> None:
        """Configure a new easy handle for t (PIPEWAIT in a parallel phase) and add it."""
        raise NotImplementedError

    def stop(self, t: CurlTransfer) -> None:
        """Remove t's easy handle from the multi: the application abandons the transfer."""
        raise NotImplementedError

    def release(self, t: CurlTransfer) -> None:
        """Remove t's ended easy handle from the multi and close it (`handles: closed`)."""
        raise NotImplementedError

    def perform(self) -> list[tuple[CurlTransfer, int, str]]:
        """Let libcurl work; the transfers it finished, with their CURLcode and message."""
        raise NotImplementedError

    def wait(self, seconds: float) -> bool:
        """Wait for socket activity, at most `seconds` (less if libcurl asks); True if a
        socket became ready."""
        raise NotImplementedError

    def pause(self, t: CurlTransfer, bits: int) -> None:
        """curl_easy_pause: the CURLPAUSE bits that stay set."""
        raise NotImplementedError

    def getinfo(self, t: CurlTransfer):
        """curl_easy_getinfo of t's handle, as a callable of the CURLINFO code."""
        raise NotImplementedError


def run_phases(job: dict, transfers: list[CurlTransfer], multi: Multi) -> None:
    for mode, indices in phases_of(job):
        group = [transfers[i] for i in indices]
        for batch in [group] if mode == "parallel" else [[t] for t in group]:
            drive(batch, transfers, multi, parallel=mode == "parallel")
            if job.get("handles") == "closed":   # only a shared session cache outlives them
                for t in batch:
                    multi.release(t)


def drive(batch: list[CurlTransfer], transfers: list[CurlTransfer], multi: Multi,
          parallel: bool) -> None:
    now = time.monotonic()
    for t in batch:
        t.begin(now)
        multi.start(t, parallel)
    poll = BUSY_POLL_S
    while True:
        for t, code, message in multi.perform():
            t.finish(multi.getinfo(t), code, message)
        now = time.monotonic()
        for t in batch:
            if t.result is None:
                act(t, now, transfers, multi)
        live = [t for t in batch if t.result is None]
        if not live and not (multi.pushes and multi.pushes.pending({t.index for t in batch})):
            return
        until = min([t.next_event() for t in live] + [now + poll])
        poll = BUSY_POLL_S if multi.wait(max(0.0, until - time.monotonic())) else min(2 * poll, POLL_S)


def act(t: CurlTransfer, now: float, transfers: list[CurlTransfer], multi: Multi) -> None:
    """Cancel t if its time came; lift the pauses that are over."""
    if now >= t.cancel_at:
        t.cancelled = f"cancelled by the application after {t.req['cancel_after_ms']} ms"
        t.note(t.cancelled)
        multi.stop(t)
        t.finish(multi.getinfo(t), None, "")
        return
    lift = t.resume_due(now, transfers)
    if lift:
        t.paused &= ~lift
        t.note(f"unpaused (CURLPAUSE bits now {t.paused})")
        multi.pause(t, t.paused)


def curl_proxy_type(version_num: int) -> int:
    """For a request's `proxy`: HTTP/2 to the proxy where libcurl can (CURLPROXY_HTTPS2),
    else HTTP/1.1 (CURLPROXY_HTTPS)."""
    return CURLPROXY_HTTPS2 if version_num >= LIBCURL_HTTPS2_PROXY else CURLPROXY_HTTPS
