"""Command line: python -m conformance {list,expectations,diff}."""
from __future__ import annotations

import argparse
import json
import sys

from . import catalog
from .case import CaseDefinitionError
from .reports import expectations


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list the case ids")
    ls.add_argument("-v", action="store_true", help="also print level and server behaviour")
    ex = sub.add_parser("expectations", help="turn a results.json into an expectations file")
    ex.add_argument("results")
    ex.add_argument("-o", "--output", help="write here instead of stdout")
    df = sub.add_parser("diff", help="verdict differences between two results.json files")
    df.add_argument("before")
    df.add_argument("after")
    gr = sub.add_parser("grid", help="an HTML grid of several results.json (builds or runs)")
    gr.add_argument("results", nargs="+")
    gr.add_argument("-o", "--output", default="reports/grid.html")
    args = p.parse_args(argv)
    try:
        return COMMANDS[args.cmd](args)
    except (CaseDefinitionError, OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list(args) -> int:
    for cid, case in sorted(catalog.load_all().items()):
        print(f"{cid:50} {case.level.value:6} {case.server}" if args.v else cid)
    return 0


def _load_results(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or "cases" not in doc:
        raise ValueError(f"{path} is not a results.json (no 'cases')")
    return doc


def _expectations(args) -> int:
    doc = _load_results(args.results)
    results = {c["id"]: c for c in doc["cases"]}
    out = expectations.from_results(results, doc["run"]["client"], doc["run"].get("client_version"))
    text = json.dumps(out, indent=1) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _diff(args) -> int:
    a, b = _load_results(args.before), _load_results(args.after)
    va = {c["id"]: c["label"] for c in a["cases"]}
    vb = {c["id"]: c["label"] for c in b["cases"]}
    print(f"before: {a['run']['client']} {a['run'].get('client_version')}")
    print(f"after:  {b['run']['client']} {b['run'].get('client_version')}")
    changed = 0
    for cid in sorted(set(va) | set(vb)):
        if va.get(cid) != vb.get(cid):
            changed += 1
            print(f"  {cid}: {va.get(cid, '-')} -> {vb.get(cid, '-')}")
    print(f"{changed} verdict(s) differ")
    return 1 if changed else 0


def _grid(args) -> int:
    from .reports.grid import grid_html
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(grid_html([_load_results(p) for p in args.results]))
    print(f"written: {args.output}")
    return 0


COMMANDS = {"list": _list, "expectations": _expectations, "diff": _diff, "grid": _grid}

if __name__ == "__main__":
    sys.exit(main())
