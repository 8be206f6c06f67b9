"""Command line: python -m conformance {list,expectations,diff,report,merge,builds,coverage,prepare}."""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import catalog
from .case import CaseDefinitionError
from .clients import registry
from .reports import expectations, results
from .reports.detail import one_line
from .reports.provenance import suite_version


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance")
    p.add_argument("--version", action="version", version=f"h2clientspec {suite_version()}")
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list the case ids")
    ls.add_argument("-v", action="store_true", help="also print level and server behaviour")
    ex = sub.add_parser("expectations", help="turn one build of a results.json into an expectations file")
    ex.add_argument("results")
    ex.add_argument("--build", help="the build to record (needed when the file holds several)")
    ex.add_argument("-o", "--output", help="write here instead of stdout")
    df = sub.add_parser("diff", help="verdict differences between two builds or two runs",
                        description="diff A.json B.json compares two runs; diff R.json --build X "
                                    "--build Y compares two builds of one run. Exit 0: equal, "
                                    "1: differences, 2: error.")
    df.add_argument("files", nargs="+", metavar="results.json")
    df.add_argument("--build", action="append", default=[],
                    help="build to compare (give two with one file; one or two with two files)")
    rp = sub.add_parser("report", aliases=["grid"], help="one self-contained HTML report of several "
                        "results.json (builds or runs)")
    rp.add_argument("results", nargs="+", metavar="results.json")
    rp.add_argument("-o", "--output", required=True, metavar="FILE.html")
    mg = sub.add_parser("merge", help="combine results files of separate jobs (one per build) into one")
    mg.add_argument("results", nargs="+", metavar="results.json")
    mg.add_argument("-o", "--output", required=True, metavar="OUT.json")
    bl = sub.add_parser("builds", help="the client builds, whether prepared, and their commands")
    bl.add_argument("--matrix", action="store_true", help="only the prepared builds of `make matrix`")
    cv = sub.add_parser("coverage", help="requirement IDs with their cases and levels; uncovered IDs")
    cv.add_argument("--requirements", default=None, help="the requirement catalog (default: "
                    "../shared/requirements.md)")
    cv.add_argument("--strict", action="store_true",
                    help="also fail on cases without covers, level mismatches and uncovered IDs")
    pr = sub.add_parser("prepare", help="prepare client builds (what `make builds` runs)")
    pr.add_argument("names", nargs="*", help="builds to prepare (default: every one with a prepare step)")
    args = p.parse_args(argv)
    try:
        code = COMMANDS[args.cmd](args)
        sys.stdout.flush()   # a reader that left shows here, not at exit
        return code
    except BrokenPipeError:   # `list | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CaseDefinitionError, OSError, ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _write(path: str, text: str) -> None:
    """Write `path` whole or not at all: a failed command never leaves it half written."""
    tmp = os.path.join(os.path.dirname(path) or ".", f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise ValueError(f"{path}: cannot write: {exc.strerror}") from None


def _list(args) -> int:
    for cid, case in sorted(catalog.load_all().items()):
        print(f"{cid:50} {case.level.value:6} {case.server}" if args.v else cid)
    return 0


def _expectations(args) -> int:
    doc = results.load(args.results)
    build = results.pick(doc, args.build, args.results)
    out = expectations.from_results(results.cases_of(doc, build), build,
                                    doc["builds"][build].get("version"))
    text = json.dumps(out, indent=1) + "\n"
    if args.output:
        _write(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def _diff(args) -> int:
    if len(args.files) > 2 or len(args.build) > 2:
        raise ValueError("diff takes one results file (with two --build) or two files")
    if len(args.files) == 1 and len(args.build) != 2:
        raise ValueError("with one results file, name the two builds to compare: --build A --build B")
    docs = {path: results.load(path) for path in args.files}
    paths = args.files if len(args.files) == 2 else args.files * 2   # one file serves both sides
    names = {0: [None, None], 1: args.build * 2, 2: args.build}[len(args.build)]
    picked = []
    for path, build in zip(paths, names):
        doc = docs[path]
        build = results.pick(doc, build, path)
        picked.append((build, doc["builds"][build].get("version"), results.cases_of(doc, build)))
    (na, va_, a), (nb, vb_, b) = picked
    print(f"before: {na} {va_}")
    print(f"after:  {nb} {vb_}")
    changed = 0
    for cid in sorted(set(a) | set(b)):
        la, lb = a.get(cid, {}).get("label", "-"), b.get(cid, {}).get("label", "-")
        if la != lb:
            changed += 1
            print(f"  {cid}: {la} -> {lb}")
            for side, c in (("before", a.get(cid)), ("after", b.get(cid))):
                if c and c["label"] != "PASS":
                    print(f"      {side}: {one_line(c.get('actual') or c.get('reason') or '', 2000)}")
    print(f"{changed} verdict(s) differ")
    return 1 if changed else 0


def _report(args) -> int:
    from .reports.html import report_html
    docs = [results.load(p) for p in args.results]   # read everything before writing anything
    _write(args.output, report_html(docs, args.results))
    print(f"written: {args.output}")
    return 0


def _merge(args) -> int:
    docs = {}
    for path in args.results:
        if path in docs:
            raise ValueError(f"{path}: given twice")
        docs[path] = results.load(path)
    merged = results.normalise(results.merge(docs), args.output)
    _write(args.output, json.dumps(merged, indent=1) + "\n")
    print(f"written: {args.output} ({len(merged['builds'])} builds, {len(merged['cases'])} verdicts)")
    return 0


def _builds(args) -> int:
    if args.matrix:
        print("\n".join(b.name for b in registry.matrix()))
        return 0
    for b in registry.load().values():
        state = "prepared" if b.prepared else "not prepared (make builds)"
        print(f"{b.name:16} {'matrix' if b.matrix else '      '} {state:28} {b.description}")
    return 0


def _prepare(args) -> int:
    import subprocess
    import time
    builds = registry.load()
    unknown = [n for n in args.names if n not in builds]
    if unknown:
        raise LookupError(f"unknown build {unknown[0]!r}; known: {', '.join(sorted(builds))}")
    failed = []
    for b in [builds[n] for n in args.names] or builds.values():
        if b.prepare is None:
            continue
        t0 = time.monotonic()
        r = subprocess.run(list(b.prepare), cwd=registry.ROOT)
        ok = r.returncode == 0 and b.prepared
        print(f"builds: {b.name}: {'ready' if ok else 'FAILED'} ({time.monotonic() - t0:.1f} s)", flush=True)
        if not ok:
            failed.append(b.name)
    if failed:
        print(f"error: could not prepare {', '.join(failed)}; the output above says why", file=sys.stderr)
        return 2
    return 0


def _coverage(args) -> int:
    from . import coverage
    reqs = coverage.load(args.requirements or coverage.DEFAULT_PATH)
    cases = list(catalog.load_all().values())
    unknown = coverage.attach(reqs, cases)
    print(coverage.report(reqs))
    bare = [c.id for c in cases if not c.covers]
    levels = coverage.level_mismatches(reqs, cases)
    for title, items in (("cases without covers", bare), ("level mismatches", levels)):
        if items:
            print(f"\n{title} ({len(items)}):")
            print("\n".join(f"  {i}" for i in items))
    for line in unknown:
        print(f"error: {line}", file=sys.stderr)
    if unknown:
        return 2
    uncovered = any(not r.cases for r in reqs.values())
    return 1 if args.strict and (bare or levels or uncovered) else 0


COMMANDS = {"list": _list, "expectations": _expectations, "diff": _diff, "report": _report,
            "grid": _report, "merge": _merge, "builds": _builds, "prepare": _prepare,
            "coverage": _coverage}

if __name__ == "__main__":
    sys.exit(main())
