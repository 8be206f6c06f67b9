"""An adapter that breaks on purpose, for the isolation self-tests.

python -m tests.adapters.misbehaving MODE, MODE one of:
  segfault  dies by SIGSEGV on the first job
  hang      never answers a job
  garbage   answers a job with a line that is not JSON
  wrong-id  answers with a result for another job
  exit      exits with status 3 on the first job
  no-hello  never says hello
  ok        answers every request with a 200 it never fetched (a liar, for plumbing tests)
"""
from __future__ import annotations

import ctypes
import json
import sys
import time


def main() -> None:
    mode = sys.argv[1]
    if mode == "no-hello":
        time.sleep(3600)
    print(json.dumps({"type": "hello", "protocol": 1,
                      "client": {"name": "misbehaving", "version": f"misbehaving/{mode}"},
                      "capabilities": ["h2", "h2c", "http1.1", "parallel", "tls-session-cache"]}),
          flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        if mode == "segfault":
            ctypes.string_at(0)
        elif mode == "hang":
            time.sleep(3600)
        elif mode == "garbage":
            print("this is not json {", flush=True)
        elif mode == "exit":
            sys.exit(3)
        elif mode == "wrong-id":
            print(json.dumps({"type": "result", "id": "other", "outcomes": []}), flush=True)
        else:
            outcomes = [{"ok": True, "error": None, "status": 200, "http_version": "2",
                         "headers": [], "body_len": 0, "body_sha256": "", "timings": {},
                         "trace": ""} for _ in job["requests"]]
            print(json.dumps({"type": "result", "id": job["id"], "outcomes": outcomes}), flush=True)


if __name__ == "__main__":
    main()
