"""Baseline: ordinary exchanges with a well-behaved server (hypercorn), which every client must pass.

The reference server records no frames, so these cases judge outcomes only; each negative
control breaks the protocol in a way hypercorn refuses or that spoils the outcome. (Flow control
beyond the client's own windows needs frames: the §5.2 cases.)
"""
import hashlib

from conformance.case import MUST, Case, Job, Req, get, gets
from conformance.verdicts import Custom, Succeeds
from servers.reference import body_of_size
from servers.scenario import BODY

MEGABYTE = 1_000_000
UPLOAD = bytes(range(256)) * 400   # 100 KiB: more than one flow-control window of DATA
SERVER = "The hypercorn reference server (h2 over TLS, default settings)."


def over_h2(ev):
    versions = [o.http_version for o in ev.outcomes]
    return all(v == "2" for v in versions), f"HTTP versions used: {versions}"


def baseline(name, requirement, request, expect, bad, covers, needs=frozenset({"h2"})):
    """Every transfer also has to have used HTTP/2 (the job asks for h2; ALPN offers both)."""
    return Case(id=f"baseline/reference/{name}", level=MUST, requirement=requirement,
                server=SERVER, scenario=None, transport="reference", request=request,
                expect=expect & Custom("every transfer used HTTP/2", over_h2, name="spoke-h2"), bad=bad,
                needs=needs, covers=covers)


CASES = [
    baseline("get-small",
             "RFC 9113 §8.1: a GET over h2 to a conforming server succeeds with the exact body.",
             get(), Succeeds(BODY), {"no-h2-in-alpn": "spoke-h2"}, ("R-3.2-1",)),
    baseline("get-1mb",
             "RFC 9113 §6.1: a 1 MB body arrives split over many DATA frames and is reassembled "
             "byte-exact.",
             get(f"/size/{MEGABYTE}"), Succeeds(body_of_size(MEGABYTE)),
             {"last-data-frame-only": "succeeds"}, ("R-6.1-3",)),
    baseline("sequential-3",
             "RFC 9113 §8.1 and §5.1.1: three sequential GETs on one handle (one connection, "
             "new streams) all succeed with the exact body.",
             gets(3), Succeeds(BODY), {"reuse-stream-id": "succeeds"}, ("R-5.1.1-1",)),
    baseline("parallel-3",
             "RFC 9113 §5.1 and §5.2: three concurrent GETs multiplexed on one connection all "
             "succeed with the exact body.",
             gets(3, mode="parallel"), Succeeds(BODY), {"mix-streams": "succeeds"}, ("R-6.1-3",),
             needs=frozenset({"h2", "parallel"})),
    baseline("post-echo",
             "RFC 9113 §8.1: a POST with a 100 KiB body reaches the server intact; the server "
             "answers the body's SHA-256 in hex.",
             Job((Req("/echo", method="POST", body=UPLOAD),)),
             Succeeds(hashlib.sha256(UPLOAD).hexdigest().encode()), {"ignore-window-credit": "succeeds"},
             ("R-6.9.1-1",)),
]
