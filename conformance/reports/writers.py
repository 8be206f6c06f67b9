"""Report writers: results.json (versioned schema), junit.xml, summary.txt."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections import Counter, defaultdict
from xml.sax.saxutils import escape, quoteattr

from .grid import grid_html

SCHEMA = "h2clientspec/results/1"
ORDER = ("PASS", "FAIL", "FAIL-SHOULD", "UNSUPPORTED", "CRASH", "TIMEOUT", "ERROR")


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def results_document(results: dict[str, dict], client_name: str, client: dict | None, *,
                     strict: bool) -> dict:
    ordered = [results[k] for k in sorted(results)]
    return {
        "schema": SCHEMA,
        "run": {"client": client_name,
                "client_version": (client or {}).get("client", {}).get("version"),
                "client_hello": client, "strict": strict,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "python": sys.version.split()[0], "platform": platform.platform(),
                "counts": dict(Counter(r["label"] for r in ordered))},
        "cases": ordered,
    }


def write_all(directory: str, results: dict[str, dict], client_name: str, client: dict | None, *,
              strict: bool) -> None:
    os.makedirs(directory, exist_ok=True)
    doc = results_document(results, client_name, client, strict=strict)
    _atomic_write(os.path.join(directory, "results.json"), json.dumps(doc, indent=1, default=str))
    _atomic_write(os.path.join(directory, "junit.xml"), junit_xml(doc))
    _atomic_write(os.path.join(directory, "summary.txt"), summary_text(results) + "\n")
    _atomic_write(os.path.join(directory, "grid.html"), grid_html([doc]))


def junit_xml(doc: dict) -> str:
    """FAIL, CRASH and TIMEOUT are <failure>; ERROR (a harness fault) is <error>."""
    cases = doc["cases"]
    counts = Counter(c["verdict"] for c in cases)
    failures = counts["FAIL"] + counts["CRASH"] + counts["TIMEOUT"]
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<testsuite name="h2clientspec" tests="{len(cases)}" failures="{failures}" '
           f'errors="{counts["ERROR"]}" skipped="{counts["UNSUPPORTED"]}" '
           f'time="{sum(c["seconds"] for c in cases):.3f}">',
           f'  <properties><property name="client" value={quoteattr(str(doc["run"]["client"]))}/>'
           f'<property name="client_version" value={quoteattr(str(doc["run"]["client_version"]))}/>'
           f'</properties>']
    for c in cases:
        out.append(f'  <testcase classname={quoteattr("rfc" + c["rfc"] + "." + c["section"])} '
                   f'name={quoteattr(c["id"])} time="{c["seconds"]:.3f}">')
        text = escape(f"Requirement: {c['requirement']}\nExpected: {c['expected']}\nActual: "
                      f"{c['actual'] or c['reason']}")
        msg = quoteattr((c["actual"] or c["reason"] or "")[:300])
        if c["verdict"] in ("FAIL", "CRASH", "TIMEOUT"):
            out.append(f'    <failure type="{c["label"]}" message={msg}>{text}</failure>')
        elif c["verdict"] == "ERROR":
            out.append(f'    <error type="ERROR" message={msg}>{text}</error>')
        elif c["verdict"] == "UNSUPPORTED":
            out.append(f'    <skipped message={msg}/>')
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out) + "\n"


def summary_text(results: dict[str, dict]) -> str:
    """Verdict counts per RFC section, then every case that did not pass."""
    by_section: dict[str, Counter] = defaultdict(Counter)
    for r in results.values():
        by_section[f"{r['rfc']} §{r['section']}"][r["label"]] += 1
    cols = [c for c in ORDER if any(cnt[c] for cnt in by_section.values())]
    width = max(len(s) for s in by_section) if by_section else 8
    lines = [f"{'section':<{width}}  " + "  ".join(f"{c:>11}" for c in cols)]
    for sec in sorted(by_section, key=_section_key):
        lines.append(f"{sec:<{width}}  " + "  ".join(f"{by_section[sec][c]:>11}" for c in cols))
    total = Counter(r["label"] for r in results.values())
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{total[c]:>11}" for c in cols))
    bad = sorted((r for r in results.values() if r["label"] != "PASS"), key=lambda r: r["id"])
    if bad:
        lines.append("")
        lines += [f"{r['label']:<12} {r['id']}: {(r['actual'] or r['reason'] or '').strip()[:160]}"
                  for r in bad]
    return "\n".join(lines)


def _section_key(sec: str):
    rfc, _, num = sec.partition(" §")
    return (rfc, [int(p) if p.isdigit() else 0 for p in num.split(".")], num)
