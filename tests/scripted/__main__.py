"""The scripted client as an adapter process speaking docs/clients.md.

python -m tests.scripted PROFILE    (PROFILE: a name in BEHAVIOURS, e.g. good or naive)

It writes a hello line, then answers each run line with one result (or error)
line, and exits 0 at the end of its input. Only protocol lines go to stdout.
"""
from __future__ import annotations

import json
import sys
import traceback

from conformance.clients.jsonlines import serve

from .client import BEHAVIOURS, Behaviour, hello, run_job


def error(job_id, message: str) -> dict:
    return {"type": "error", "id": job_id if isinstance(job_id, str) else "", "message": message}


def answer(line: bytes, behaviour: Behaviour) -> dict:
    """The reply to one input line."""
    try:
        job = json.loads(line)
    except ValueError as exc:
        return error("", f"not a JSON line: {exc}")
    if not isinstance(job, dict):
        return error("", "a message must be a JSON object")
    if job.get("type") != "run":
        return error(job.get("id"), f"unknown message type {job.get('type')!r}; expected 'run'")
    try:
        return run_job(job, behaviour)
    except Exception as exc:                 # a bug of ours: report it and serve the next job
        traceback.print_exc()
        return error(job.get("id"), f"scripted client raised {exc!r}")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in BEHAVIOURS:
        print(f"usage: python -m tests.scripted PROFILE\nprofiles: {', '.join(sorted(BEHAVIOURS))}",
              file=sys.stderr)
        return 2
    behaviour = BEHAVIOURS[argv[0]]
    return serve(hello(), lambda line: answer(line, behaviour))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
