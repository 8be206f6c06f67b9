"""Serve one case's scenario by hand: python -m servers serve <case-id>

Prints the URL, the CA file and what a conforming client should do, then
serves until Ctrl-C, printing the frames of each connection as it ends.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time

from conformance import catalog
from conformance.case import CaseDefinitionError
from servers.transport import ServerSet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve one case's scenario")
    serve.add_argument("case_id")
    serve.add_argument("--once", action="store_true", help="exit after the first client has gone")
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
    if case.transport == "reference":
        print("error: this case runs against the hypercorn reference server; "
              "serve it with: python -m servers.reference", file=sys.stderr)
        return 2
    servers = ServerSet()
    hosted = servers.host(case.scenario(), secure=case.transport != "h2c")
    paths = [r.path for r in case.request.requests]
    flag = "--http2-prior-knowledge" if case.transport == "h2c" else "--http2"
    print(f"case:      {case.id} [{case.level.value}]")
    print(f"server:    {case.server}")
    print(f"require:   {case.requirement}")
    print(f"url:       {hosted.url(paths[0])}")
    print(f"ca file:   {hosted.ca_file}")
    print(f"try:       curl -v {flag} --cacert {hosted.ca_file} {hosted.url(paths[0])}")
    print(f"conforming client: {describe(case.expect)}", flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            conns = hosted.observations.connections
            done = [c for c in conns if c.closed_by]
            if len(done) > seen:
                for c in done[seen:]:
                    print(f"--- connection #{c.index} ended (closed by {c.closed_by})")
                    for f in c.received:
                        print(f"  client {f.describe()}")
                seen = len(done)
                if args.once and len(done) == len(conns):
                    break
    except KeyboardInterrupt:
        pass
    finally:
        hosted.close()
        servers.close()
    return 0


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
