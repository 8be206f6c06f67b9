"""Report writers: results.json (versioned schema), junit.xml, summary.txt, grid.html.

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
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from .grid import grid_html
from .results import SCHEMA, cases_of

ORDER = ("PASS", "FAIL", "FAIL-SHOULD", "NOT-EXERCISED", "UNSUPPORTED", "CRASH", "TIMEOUT", "ERROR")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class RunRecord:
    results: list[dict]                   # one per case and build; each names its `client`
    builds: dict[str, dict]               # name -> description, version, hello, expectations, differences
    strict: bool = False
    started: str = ""


def results_document(run: RunRecord) -> dict:
    ordered = sorted(run.results, key=lambda r: (r["id"], r["client"]))
    builds = {}
    for name, b in run.builds.items():
        mine = [r for r in ordered if r["client"] == name]
        builds[name] = {**b, "counts": dict(Counter(r["label"] for r in mine))}
    return {
        "schema": SCHEMA,
        "run": {"started": run.started, "finished": now(), "strict": run.strict,
                "python": sys.version.split()[0], "platform": platform.platform(),
                "counts": dict(Counter(r["label"] for r in ordered))},
        "builds": builds,
        "cases": ordered,
    }


def write_all(directory: str, run: RunRecord) -> None:
    doc = results_document(run)
    directory = os.path.abspath(directory)
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    tmp = f"{directory}.new{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    files = {"results.json": json.dumps(doc, indent=1, default=str),
             "junit.xml": junit_xml(doc),
             "summary.txt": "\n\n".join(f"{name}: {doc['builds'][name].get('version')}\n"
                                        + summary_text(cases_of(doc, name))
                                        for name in doc["builds"]) + "\n",
             "grid.html": grid_html([doc])}
    for name, text in files.items():
        with open(os.path.join(tmp, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    old = f"{directory}.old{os.getpid()}"
    if os.path.isdir(directory):
        keep = [n for n in os.listdir(directory) if n not in files]   # bench.json, soak.json, ...
        for n in keep:
            os.replace(os.path.join(directory, n), os.path.join(tmp, n))
        os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)


def junit_xml(doc: dict) -> str:
    """One testsuite per build. FAIL, CRASH and TIMEOUT are <failure>; ERROR (a harness
    fault) is <error>; UNSUPPORTED and NOT-EXERCISED are <skipped>. With an expectations
    file, a verdict it expects is never a failure (it is <skipped> "known ..."), and one
    that differs from it always is, so the XML agrees with the run's exit status."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<testsuites>"]
    for name, build in doc["builds"].items():
        cases = list(cases_of(doc, name).values())
        known = build.get("known")
        kinds = [_junit_kind(c, known, doc["run"]["strict"]) for c in cases]
        counts = Counter(k for k, _ in kinds)
        out += [f'<testsuite name={quoteattr("h2clientspec " + name)} tests="{len(cases)}" '
                f'failures="{counts["failure"]}" errors="{counts["error"]}" skipped="{counts["skipped"]}" '
                f'time="{sum(c["seconds"] for c in cases):.3f}">',
                f'  <properties><property name="client" value={quoteattr(name)}/>'
                f'<property name="client_version" value={quoteattr(str(build.get("version")))}/>'
                f'</properties>']
        for c, (kind, why) in zip(cases, kinds):
            out.append(f'  <testcase classname={quoteattr(name + ".rfc" + c["rfc"] + "." + c["section"])} '
                       f'name={quoteattr(c["id"])} time="{c["seconds"]:.3f}">')
            text = escape(f"Requirement: {c['requirement']}\nExpected: {c['expected']}\nActual: "
                          f"{c['actual'] or c['reason']}")
            msg = quoteattr(one_line((why + ": " if why else "") + (c["actual"] or c["reason"] or ""), 300))
            if kind == "failure":
                out.append(f'    <failure type="{c["label"]}" message={msg}>{text}</failure>')
            elif kind == "error":
                out.append(f'    <error type="ERROR" message={msg}>{text}</error>')
            elif kind == "skipped":
                out.append(f'    <skipped message={msg}/>')
            out.append("  </testcase>")
        out.append("</testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


def _junit_kind(c: dict, known: dict | None, strict: bool) -> tuple[str, str]:
    """(failure | error | skipped | passed, why) for one case."""
    label = c["label"]
    if known is not None:
        want = known.get(c["id"], "PASS")
        if label != want:
            return "failure", f"verdict changed: expected {want}, got {label}"
        return ("passed", "") if label == "PASS" else ("skipped", f"known {label}")
    if label in ("FAIL", "CRASH", "TIMEOUT") or (strict and label == "FAIL-SHOULD"):
        return "failure", ""
    if label == "ERROR":
        return "error", ""
    if label in ("UNSUPPORTED", "NOT-EXERCISED"):
        return "skipped", label
    return "passed", ""   # PASS, and FAIL-SHOULD (a warning unless --strict)


def one_line(text: str, limit: int) -> str:
    """Control characters escaped, cut at `limit` with a visible ellipsis."""
    text = text.strip().encode("unicode_escape").decode("ascii") if not text.isprintable() else text.strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
        lines.append("")
        lines += [f"{r['label']:<13} {r['id']}: {one_line(r['actual'] or r['reason'] or '', 200)}"
                  for r in bad]
    return "\n".join(lines)


def _section_key(sec: str):
    rfc, _, num = sec.partition(" §")
    return (rfc, [int(p) if p.isdigit() else 0 for p in num.split(".")], num)
