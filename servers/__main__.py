"""Serve one case by hand: python -m servers serve <case-id> [--port N] [--once]

Prints the URL, the CA file, a curl command that makes the case's requests and what
a conforming client does, then serves until Ctrl-C (or SIGTERM, SIGHUP). Once every
connection of a client has ended, and no new one came for SETTLE_S, it prints the
frames the client sent and the verdict the server side can judge, naming the checks
that need the client's own report; the next client gets a fresh scenario on the same
port. `--once` exits after the first client's verdict.

Cases of the hypercorn reference server (transport "reference") are served the same
way, but that server records no frames: only the client can judge them.
"""
from __future__ import annotations

import argparse
import errno
import os
import shlex
import sys
import threading
import time

from conformance import catalog
from conformance.case import CaseDefinitionError
from conformance.verdicts import server_side
from servers.reference import Reference
from servers.transport import Hosted, ServerSet

SETTLE_S = 1.0   # with every connection ended, how long to wait for a retry before judging
POLL_S = 0.1
# curl's flag for each request http_version of docs/clients.md
VERSION_FLAGS = {"h2": "--http2", "h2-or-http1.1": "--http2", "http1.1": "--http1.1",
                 "h2-prior-knowledge": "--http2-prior-knowledge"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve one case's scenario")
    serve.add_argument("case_id")
    serve.add_argument("--port", type=int, default=0, help="listen on this port (default: any free one)")
    serve.add_argument("--once", action="store_true", help="exit after the first client's verdict")
    args = parser.parse_args(argv)
    try:
        cases = catalog.load_all()
    except CaseDefinitionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    case = cases.get(args.case_id)
    if case is None:
        near = [c for c in cases if args.case_id.split("/")[-1] in c] or sorted(cases)[:5]
        print(f"error: unknown case id {args.case_id!r}; try one of: {', '.join(near[:5])}",
              file=sys.stderr)
        return 2
    if case.transport == "reference" and args.once:
        print("error: --once: the reference server records no connections to wait for; "
              "stop it with Ctrl-C", file=sys.stderr)
        return 2
    servers = None
    try:
        servers = ServerSet()
        if case.transport == "reference":
            serve_reference(case, servers, args.port)
        else:
            serve_scenario(case, servers, args.port, args.once)
    except KeyboardInterrupt:   # Ctrl-C, SIGTERM, SIGHUP (servers/tls.py)
        pass
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        print(f"error: cannot listen on port {args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    finally:
        if servers is not None:
            servers.close()
    return 0


def serve_scenario(case, servers: ServerSet, port: int, once: bool) -> None:
    hosted = servers.host(case.scenario(), secure=case.transport != "h2c", port=port)
    port = hosted.port   # the next clients come back to the same URL
    try:
        introduce(case, hosted.url(""), servers, f"conforming client: {describe(case.expect)}")
        while True:
            wait_for_client(hosted)
            observations, hosted = hosted.close(), None
            for c in observations.connections:
                print(f"--- connection #{c.index} ended (closed by {c.closed_by})")
                for f in c.received:
                    print(f"  client {f.describe()}")
            print(verdict_text(server_side.judge(case, observations)), flush=True)
            if once:
                return
            hosted = servers.host(case.scenario(), secure=case.transport != "h2c", port=port)
            print(f"serving a fresh scenario on {hosted.url(case.request.requests[0].path)} for the next client",
                  flush=True)
    finally:
        if hosted is not None:
            hosted.close()


def serve_reference(case, servers: ServerSet, port: int) -> None:
    ref = Reference(servers, port)
    try:
        introduce(case, ref.url(""), servers, "conforming client: every transfer succeeds "
                  "(the reference server records no frames: only the client can judge this case)")
        threading.Event().wait()   # until a signal interrupts
    finally:
        ref.close()


def introduce(case, base_url: str, servers: ServerSet, conforming: str) -> None:
    print(f"case:      {case.id} [{case.level.value}]")
    print(f"server:    {case.server}")
    print(f"require:   {case.requirement}")
    print(f"url:       {base_url}{case.request.requests[0].path}")
    print(f"ca file:   {servers.ca_file}")
    print(f"try:       {curl_command(case.request, base_url, servers.ca_file, servers.tls.dir)}")
    print(conforming, flush=True)


def wait_for_client(hosted: Hosted) -> None:
    """Until a client came and every connection it opened has ended, with no new one for
    SETTLE_S: a client that retries on a new connection does so at once."""
    quiet_since, seen = None, 0
    while True:
        time.sleep(POLL_S)
        count = len(hosted.observations.connections)
        if not count or not hosted.wait_closed(0):
            quiet_since = None
        elif quiet_since is None or count != seen:
            quiet_since, seen = time.monotonic(), count
        elif time.monotonic() - quiet_since >= SETTLE_S:
            return


def curl_command(job, base_url: str, ca_file: str, scratch: str) -> str:
    """The case's job as a curl command line: its requests in one invocation, so they share a
    connection (`--parallel` when the job runs them at once), or one invocation per request
    when the job asks for fresh connections. Request bodies are written to `scratch`."""
    def options(i: int, req) -> list[str]:
        opts = [VERSION_FLAGS[req.http_version], "--max-time", f"{job.timeout_ms / 1000:g}"]
        if base_url.startswith("https:"):
            opts += ["--cacert", ca_file]
        if req.method == "HEAD":
            opts.append("-I")
        elif req.method != ("POST" if req.body is not None else "GET"):
            opts += ["-X", req.method]
        for name, value in req.headers:
            opts += ["-H", f"{name}: {value}" if value else f"{name};"]   # "name;" sends it empty
        if req.body is not None:
            body = os.path.join(scratch, f"body-{i + 1}.bin")
            with open(body, "wb") as fh:
                fh.write(req.body)
            opts += ["--data-binary", "@" + body]
        return opts

    each = [(options(i, r), base_url + r.path) for i, r in enumerate(job.requests)]
    if job.connection == "fresh":
        return " ; ".join(shlex.join(["curl", "--no-progress-meter", *opts, url]) for opts, url in each)
    argv = ["curl", "--no-progress-meter"] + (["--parallel"] if job.mode == "parallel" and len(each) > 1 else [])
    if all(opts == each[0][0] for opts, _ in each):
        argv += each[0][0] + [url for _, url in each]
    else:
        for n, (opts, url) in enumerate(each):
            argv += (["--next"] if n else []) + opts + [url]
    return shlex.join(argv)


def verdict_text(result: server_side.ServerSideVerdict) -> str:
    lines = []
    if result.verdict is None:
        lines.append("server-side verdict: none; every check of this case needs the client's report")
    else:
        note = (f"; {len(result.not_judged)} check(s) need the client's report and were not judged"
                if result.not_judged else "")
        lines.append(f"server-side verdict: {result.verdict.label} (from what the server saw{note})")
    for c in result.judged:
        level = f" [{c.level.value}]" if c.level else ""
        lines.append(f"  {'held' if c.passed else 'FAILED'}{level}: {c.expected}: {c.actual}")
    lines += [f"  not judged (needs the client's report): {what}" for what in result.not_judged]
    return "\n".join(lines)


def describe(expect) -> str:
    parts = getattr(expect, "parts", [expect])
    return "; ".join(_one(p) for p in parts)


def _one(p) -> str:
    name = type(p).__name__
    codes = getattr(p, "codes", None)
    if codes:
        return f"{name}({'|'.join(sorted(codes))})"
    what = getattr(p, "what", None) or getattr(p, "expected", None) or getattr(p, "why", None)
    return f"{name}({what})" if what else name


if __name__ == "__main__":
    threading.current_thread().name = "h2cs-serve"
    sys.exit(main())
