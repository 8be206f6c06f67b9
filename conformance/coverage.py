"""Requirement coverage: which cases cover each line of the requirement catalog.

The catalog is ../shared/requirements.md (or --requirements FILE). A line is a
bullet starting with its ID in backticks; its level is the first "(M", "(S" or
"(Y" on it (MUST, SHOULD, MAY or no keyword).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .case import Level
from .catalog import ROOT

DEFAULT_PATH = os.path.join(os.path.dirname(ROOT), "shared", "requirements.md")
LINE = re.compile(r"^\s*- `(R-[A-Za-z0-9.-]+)` (.*)$")
LEVEL = re.compile(r"\((M|S|Y)\b")
LEVELS = {"M": Level.MUST, "S": Level.SHOULD, "Y": Level.MAY}
ID = re.compile(r"^R-[A-Za-z0-9.-]+-[0-9]+$")


class CoverageError(ValueError):
    pass


@dataclass
class Requirement:
    id: str
    level: Level
    group: str
    text: str
    cases: list = field(default_factory=list)


def load(path: str = DEFAULT_PATH) -> dict[str, Requirement]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise CoverageError(f"cannot read the requirement catalog {path}: {exc.strerror} "
                            f"(pass --requirements FILE)") from None
    reqs: dict[str, Requirement] = {}
    group = ""
    for n, line in enumerate(lines, 1):
        if line.startswith("#"):
            group = line.lstrip("#").strip()
            continue
        m = LINE.match(line)
        if not m:
            continue
        level = LEVEL.search(m.group(2))
        if level is None:
            raise CoverageError(f"{path}:{n}: {m.group(1)} has no level (M, S or Y)")
        reqs[m.group(1)] = Requirement(m.group(1), LEVELS[level.group(1)], group, m.group(2))
    return reqs


def attach(reqs: dict[str, Requirement], cases) -> list[str]:
    """Hang each case on the lines it covers; return the problems (unknown IDs)."""
    problems = []
    for case in cases:
        for rid in case.covers:
            if rid not in reqs:
                problems.append(f"{case.id}: covers unknown requirement {rid}")
            else:
                reqs[rid].cases.append(case)
    return problems


def level_mismatches(reqs: dict[str, Requirement], cases) -> list[str]:
    """A case is judged at the level of the line it covers, unless it says why not."""
    out = []
    for case in cases:
        levels = {reqs[r].level for r in case.covers if r in reqs}
        if levels and case.level not in levels and not case.level_note:
            out.append(f"{case.id}: level {case.level.value}, but it covers "
                       + ", ".join(f"{r} ({reqs[r].level.value})" for r in case.covers if r in reqs))
    return out


def report(reqs: dict[str, Requirement]) -> str:
    lines, group = [], None
    for r in reqs.values():
        if r.group != group:
            group = r.group
            lines.append(f"\n{group}")
        cases = ", ".join(c.id for c in r.cases) or "UNCOVERED"
        lines.append(f"  {r.id:14} {r.level.value:6} {cases}")
    uncovered = [r.id for r in reqs.values() if not r.cases]
    lines.append(f"\n{len(reqs)} requirements, {len(reqs) - len(uncovered)} covered, "
                 f"{len(uncovered)} uncovered")
    if uncovered:
        lines.append("uncovered: " + " ".join(uncovered))
    return "\n".join(lines).lstrip("\n")
