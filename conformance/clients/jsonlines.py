"""The adapter side of docs/clients.md, for adapters written in Python."""
from __future__ import annotations

import json
import os
import sys
from typing import Callable


def serve(hello: dict, answer: Callable[[bytes], dict]) -> int:
    """Say hello, then answer each stdin line with one stdout line until EOF."""
    # fd 1 carries protocol lines only: anything else written to stdout goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(msg: dict) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    send(hello)
    for line in sys.stdin.buffer:
        if line.strip():
            send(answer(line))
    return 0
