"""Report writers: results.json (versioned schema), junit.xml, summary.txt, summary.md and
report.html.

A run is written to a fresh folder beside the reports folder and swapped in
whole, so a reader never sees half of one run and half of another.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from . import detail, provenance
from .detail import one_line
from .html import report_html
from .markdown import summary_markdown
from .results import SCHEMA, cases_of
from .schema import LABELS as ORDER

RETIRED = ("grid.html",)   # written by earlier versions; report.html replaces it
SUMMARY_CUT = 200
CUT_NOTE = "(… ends a shortened reason; results.json holds the full text)"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class RunRecord:
    results: list[dict]                   # one per case and build; each names its `client`
    builds: dict[str, dict]               # name -> description, version, hello, expectations, differences
    strict: bool = False
    started: str = ""
    problems: list[dict] = field(default_factory=list)   # case modules that failed to load
    planned: int | None = None            # case items selected; more than ran: incomplete


def results_document(run: RunRecord) -> dict:
    ordered = sorted(run.results, key=lambda r: (r["id"], r["client"]))
    builds = {}
    for name, b in run.builds.items():
        mine = [r for r in ordered if r["client"] == name]
        builds[name] = {**b, "counts": dict(Counter(r["label"] for r in mine))}
    commit, dirty = provenance.commit()
    return {
        "schema": SCHEMA,
        "run": {"suite_version": provenance.suite_version(), "commit": commit, "commit_dirty": dirty,
                "started": run.started, "finished": now(), "strict": run.strict,
                "complete": run.planned is None or len(ordered) >= run.planned,
                "planned": run.planned,
                "python": sys.version.split()[0], "platform": platform.platform(),
                "counts": dict(Counter(r["label"] for r in ordered))},
        "problems": run.problems,
        "builds": builds,
        "cases": ordered,
    }


def write_all(directory: str, doc: dict) -> None:
    directory = os.path.abspath(directory)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    tmp = f"{directory}.new{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    files = {"results.json": results_json(doc),
             "junit.xml": junit_xml(doc),
             "summary.txt": summary_txt(doc) + "\n",
             "summary.md": summary_markdown(doc),
             "report.html": report_html([doc])}
    for name, text in files.items():
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    old = f"{directory}.old{os.getpid()}"
    if os.path.isdir(directory):
        keep = [n for n in os.listdir(directory) if n not in files and n not in RETIRED]
        for n in keep:   # bench.json, soak.json, ...
            os.replace(os.path.join(directory, n), os.path.join(tmp, n))
        os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)


def results_json(doc: dict) -> str:
    """The results document with one case per line: greppable, and written by json's C
    encoder (an indented dump of a matrix run takes seconds)."""
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, indent=1, default=str)
    cases = ",\n".join(json.dumps(c, default=str) for c in doc.get("cases", []))
    return f'{head[:-2]},\n "cases": [\n{cases}\n ]\n}}\n'


def junit_xml(doc: dict) -> str:
    """One testsuite per build. FAIL, CRASH and TIMEOUT are <failure>; ERROR (a harness
    fault) is <error>; UNSUPPORTED and NOT-EXERCISED are <skipped>. With an expectations
    file, a verdict it expects is never a failure (it is <skipped> "known ..."), and one
    that differs from it always is, so the XML agrees with the run's exit status. Case
    modules that failed to load, and cases that ended without a verdict, are <error> cases
    of their own suite. Every case carries
    its frames, the job and the rerun command in <system-out>."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<testsuites>"]
    if doc["problems"]:
        out.append(f'<testsuite name="h2clientspec problems" tests="{len(doc["problems"])}" '
                   f'failures="0" errors="{len(doc["problems"])}" skipped="0" time="0">')
        for p in doc["problems"]:
            out += [f'  <testcase classname="h2clientspec.problems" name={quoteattr(p["where"])} time="0">',
                    f'    <error type="NoVerdict" message={quoteattr(one_line(p["message"], 300))}>'
                    f'{escape(detail.escaped(p["message"], keep=chr(10)))}</error>',
                    "  </testcase>"]
        out.append("</testsuite>")
    for name, build in doc["builds"].items():
        cases = list(cases_of(doc, name).values())
        known = build.get("known")
        kinds = [detail.kind(c, known, doc["run"]["strict"]) for c in cases]
        counts = Counter(k for k, _ in kinds)
        out += [f'<testsuite name={quoteattr("h2clientspec " + name)} tests="{len(cases)}" '
                f'failures="{counts["failure"]}" errors="{counts["error"]}" skipped="{counts["skipped"]}" '
                f'time="{sum(c["seconds"] for c in cases):.3f}">',
                f'  <properties><property name="client" value={quoteattr(name)}/>'
                f'<property name="client_version" value={quoteattr(str(build.get("version")))}/>'
                f'<property name="expectations" value={quoteattr(build.get("expectations") or "none")}/>'
                f'</properties>']
        for c, (kind, why) in zip(cases, kinds):
            out.append(f'  <testcase classname={quoteattr(name + ".rfc" + c["rfc"] + "." + c["section"])} '
                       f'name={quoteattr(c["id"])} time="{c["seconds"]:.3f}">')
            text = escape(detail.escaped(f"Requirement: {c['requirement']}\nExpected: {c['expected']}\n"
                                         f"Actual: {detail.reason(c)}", keep="\n"))
            msg = quoteattr(one_line((why + ": " if why else "") + detail.reason(c), 300))
            if kind == "failure":
                out.append(f'    <failure type="{c["label"]}" message={msg}>{text}</failure>')
            elif kind == "error":
                out.append(f'    <error type="ERROR" message={msg}>{text}</error>')
            elif kind == "skipped":
                out.append(f'    <skipped message={msg}/>')
            out.append(f"    <system-out>{escape(detail.text(c))}</system-out>")
            out.append("  </testcase>")
        out.append("</testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def run_lines(doc: dict) -> list[str]:
    """Which suite made the run and when; whether anything is missing from it."""
    run = doc["run"]
    commit = f", commit {run['commit'][:12]}{' with local changes' if run.get('commit_dirty') else ''}" \
        if run.get("commit") else ""
    lines = [f"h2clientspec {run.get('suite_version') or 'unknown'}{commit}; "
             f"run {run.get('started') or '?'} to {run.get('finished') or '?'}"]
    if run.get("complete") is False:
        lines.append(f"INCOMPLETE: {len(doc['cases'])} of {run['planned']} selected case items ran; "
                     f"the others have no verdict")
    if doc["problems"]:
        lines.append(f"ERROR: {len(doc['problems'])} problem(s) kept cases from a verdict (a case module "
                     f"that failed to load, a case that did not run); the run fails:")
        lines += [f"  {p['where']}: {one_line(p['message'], 2000)}" for p in doc["problems"]]
    return lines


def summary_txt(doc: dict) -> str:
    """summary.txt, and the console's summary: the run, then per build its verdicts by
    section and its differences from the expectations file."""
    out = run_lines(doc)
    for name, build in doc["builds"].items():
        out += ["", f"== {name}: {detail.escaped(str(build.get('version')))}",
                summary_text(cases_of(doc, name))]
        if build.get("differences") is not None:
            diffs = build["differences"]
            out.append(f"differences from {build.get('expectations')}: {len(diffs)}")
            out += [f"  {d['id']}: expected {d['expected']}, got {d['got']}" for d in diffs]
    return "\n".join(out)


def summary_text(results: dict[str, dict]) -> str:
    """Verdict counts per RFC section, then every case that did not pass."""
    by_section: dict[str, Counter] = defaultdict(Counter)
    for r in results.values():
        by_section[f"{r['rfc']} §{r['section']}"][r["label"]] += 1
    cols = [c for c in ORDER if any(cnt[c] for cnt in by_section.values())]
    width = max(len(s) for s in by_section) if by_section else 8
    lines = [f"{'section':<{width}}  " + "  ".join(f"{c:>13}" for c in cols)]
    for sec in sorted(by_section, key=_section_key):
        lines.append(f"{sec:<{width}}  " + "  ".join(f"{by_section[sec][c]:>13}" for c in cols))
    total = Counter(r["label"] for r in results.values())
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{total[c]:>13}" for c in cols))
    bad = sorted((r for r in results.values() if r["label"] != "PASS"), key=lambda r: r["id"])
    if bad:
        reasons = [one_line(detail.reason(r), SUMMARY_CUT) for r in bad]
        lines.append("")
        lines += [f"{r['label']:<13} {r['id']}: {why}" for r, why in zip(bad, reasons)]
        if any(why.endswith("…") for why in reasons):
            lines.append(CUT_NOTE)
    return "\n".join(lines)


def _section_key(sec: str):
    rfc, _, num = sec.partition(" §")
    return (rfc, [int(p) if p.isdigit() else 0 for p in num.split(".")], num)
