"""summary.md: a run in Markdown, short enough for a pull-request comment: per build its
totals, the differences from its expectations file, and its MUST failures."""
from __future__ import annotations

import re

from . import detail
from .results import cases_of
from .schema import LABELS as ORDER

REASON_CUT = 200
_SPECIAL = re.compile(r"([\\`*_\[\]|<>~#])")


def md(text: str) -> str:
    """Plain text inside Markdown: one line, its markup characters escaped."""
    return _SPECIAL.sub(r"\\\1", detail.escaped(str(text)))


def fails(doc: dict) -> bool:
    """Whether the run this document records fails (as its exit status did)."""
    return bool(doc["problems"]) or any(
        detail.kind(c, doc["builds"][c["client"]].get("known"), doc["run"]["strict"])[0]
        in ("failure", "error") for c in doc["cases"])


def summary_markdown(doc: dict) -> str:
    run = doc["run"]
    out = [f"### h2clientspec: {'❌ the run fails' if fails(doc) else '✅ the run passes'}", ""]
    commit = f", commit `{run['commit'][:12]}`" if run.get("commit") else ""
    out += [f"h2clientspec {md(run.get('suite_version') or 'unknown')}{commit}; "
            f"run {md(run.get('started') or '?')} to {md(run.get('finished') or '?')}", ""]
    if run.get("complete") is False:
        out += [f"> **Incomplete:** {len(doc['cases'])} of {run['planned']} selected case items ran.", ""]
    if doc["problems"]:
        out += [f"> **Error:** {len(doc['problems'])} problem(s) kept cases from a verdict:"]
        out += [f"> - {md(p['where'])}: {md(detail.one_line(p['message'], 500))}" for p in doc["problems"]]
        out.append("")
    out += _totals(doc) + [""] + _differences(doc) + [""] + _must_failures(doc)
    return "\n".join(out) + "\n"


def _totals(doc: dict) -> list[str]:
    labels = [lb for lb in ORDER if any(b["counts"].get(lb) for b in doc["builds"].values())]
    out = ["| build | version | " + " | ".join(labels) + " | differences |",
           "|---|---|" + "---:|" * len(labels) + "---:|"]
    for name, b in doc["builds"].items():
        diffs = b.get("differences")
        out.append(f"| {md(name)} | {md(b.get('version') or '?')} | "
                   + " | ".join(str(b["counts"].get(lb, 0)) for lb in labels)
                   + f" | {'no expectations' if diffs is None else len(diffs)} |")
    return out


def _differences(doc: dict) -> list[str]:
    out = ["#### Differences from the expectations files"]
    found = [(name, b, d) for name, b in doc["builds"].items() for d in b.get("differences") or []]
    if not found:
        return out + ["None."]
    return out + [f"- {md(name)} ({md(b.get('expectations'))}): {md(d['id'])}: expected "
                  f"{d['expected']}, got **{d['got']}**" for name, b, d in found]


def _must_failures(doc: dict) -> list[str]:
    out = ["#### MUST failures"]
    cut = False
    for name, b in doc["builds"].items():
        failed = [c for c in cases_of(doc, name).values() if c["label"] == "FAIL"]
        known = b.get("known") or {}
        out += ["", f"<details><summary>{md(name)}: {len(failed)} "
                    f"({sum(known.get(c['id']) == 'FAIL' for c in failed)} known)</summary>", ""]
        if failed:
            out += ["| case | known | reason |", "|---|---|---|"]
        for c in failed:
            why = detail.one_line(detail.reason(c), REASON_CUT)
            cut = cut or why.endswith("…")
            out.append(f"| {md(c['id'])} | {'yes' if known.get(c['id']) == 'FAIL' else '**no**'} | {md(why)} |")
        out += ["", "</details>"]
    if cut:
        out += ["", "… ends a shortened reason; results.json and report.html hold the full text."]
    return out
