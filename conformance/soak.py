"""`make soak`: the whole matrix (or the builds named) N times at -n 2 beside a CPU hog;
report changed verdicts.

The goal is zero changes. A flake is fixed at its cause (an event to wait on,
a bound that matches the behaviour), never by widening what a verdict accepts.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

from .bench import run_catalog
from .clients import registry

HOG = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance.soak")
    ap.add_argument("--client", action="append", default=[],
                    help="build to soak (repeatable; default: the whole matrix)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--out", default="reports/soak.json")
    args = ap.parse_args(argv)
    for name in args.client:
        registry.find(name)
    select = [a for n in args.client for a in ("--client", n)] or ["--matrix"]
    seen: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    walls = []
    # The hog keeps one core busy for the whole soak and ends by itself.
    hog = subprocess.Popen([sys.executable, "-c", HOG.format(s=args.runs * 60)])
    try:
        with tempfile.TemporaryDirectory(prefix="h2cs-soak-") as tmp:
            for i in range(args.runs):
                wall, doc = run_catalog(select, args.jobs, os.path.join(tmp, str(i)), [])
                walls.append(round(wall, 2))
                builds = {n: b.get("version") for n, b in doc["builds"].items()}
                for c in doc["cases"]:
                    seen[f"{c['id']} [{c['client']}]"][c["label"]].append(i)
                print(f"run {i + 1}/{args.runs}: {len(doc['cases'])} case runs in {wall:.1f}s "
                      f"{doc['run']['counts']}", flush=True)
    finally:
        hog.kill()
        hog.wait()
    changed = {cid: {label: runs for label, runs in labels.items()}
               for cid, labels in seen.items() if len(labels) > 1}
    result = {"builds": builds, "runs": args.runs, "jobs": args.jobs, "cpu_hog": True,
              "cases": len(seen), "wall_s": walls, "changed": changed,
              "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    print(f"\nsoak: {args.runs} runs x {len(seen)} case runs ({len(builds)} builds) at -n {args.jobs} "
          f"with a CPU hog; "
          f"wall per run min/max {min(walls)}/{max(walls)} s; {len(changed)} case(s) changed verdict")
    for cid, labels in sorted(changed.items()):
        print(f"  {cid}: " + "; ".join(f"{label} in runs {runs}" for label, runs in labels.items()))
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
