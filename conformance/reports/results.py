"""Reading results.json: schema check, the cases of one build, and merging files.

Schema 3 (conformance/reports/schema.py) adds provenance, completeness, load problems
and per case the job the client was given. Older files are read as schema 3: schema 2
holds several builds (`builds`, and `client` on every case); schema 1 one build, named
in `run.client`. Fields they lack read as null.
"""
from __future__ import annotations

import json
import re

from . import schema

SCHEMA = "h2clientspec/results/3"
READABLE = (SCHEMA, "h2clientspec/results/2", "h2clientspec/results/1")
_DIFFERENCE = re.compile(r"^(?P<id>.+): expected (?P<expected>\S+), got (?P<got>\S+)$")


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file."""


def load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ResultsError(f"{path}: not valid JSON: {exc}") from None
    return normalise(doc, path)


def normalise(doc, path: str) -> dict:
    """`doc` as a checked schema 3 document; any problem is a ResultsError naming `path`."""
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ResultsError(f"{path}: not an h2clientspec results file (schema {found!r}; "
                           f"expected one of {', '.join(READABLE)})")
    if doc["schema"] != SCHEMA:
        doc = _upgrade(doc, path)
    found = schema.problem(doc, schema.RESULTS)
    if found:
        raise ResultsError(f"{path}: {found} (schema {SCHEMA})")
    for i, c in enumerate(doc["cases"]):
        if c["client"] not in doc["builds"]:
            raise ResultsError(f"{path}: cases[{i}].client: build {c['client']!r} is not in 'builds'")
    return doc


def _upgrade(doc: dict, path: str) -> dict:
    """A schema 1 or 2 document in schema 3's shape, for the fields reports read."""
    run = doc.get("run")
    if not isinstance(run, dict):
        raise ResultsError(f"{path}: run: expected object, got {type(run).__name__}")
    builds, cases = doc.get("builds"), doc.get("cases")
    if doc["schema"].endswith("/1"):
        name = run.get("client") or "client"
        builds = {name: {"version": run.get("client_version"), "hello": run.get("client_hello")}}
        if isinstance(cases, list):
            cases = [dict(c, client=c.get("client") or name) if isinstance(c, dict) else c for c in cases]
    if not isinstance(builds, dict) or not isinstance(cases, list):
        raise ResultsError(f"{path}: 'builds' must be an object and 'cases' a list")
    new_run = {"suite_version": None, "commit": None, "started": None, "finished": None,
               "strict": False, "complete": None, "planned": None, "counts": {}}
    new_run.update({k: v for k, v in run.items() if k in new_run})
    return {"schema": SCHEMA, "run": new_run, "problems": [],
            "builds": {n: _upgrade_build(b, n, path) for n, b in builds.items()},
            "cases": [_upgrade_case(c) for c in cases]}


def _upgrade_build(b, name: str, path: str) -> dict:
    if not isinstance(b, dict):
        raise ResultsError(f"{path}: builds.{name}: expected object, got {type(b).__name__}")
    differences = b.get("differences")
    if isinstance(differences, list):   # schema 2 kept "id: expected X, got Y" lines
        differences = [m.groupdict() if isinstance(d, str) and (m := _DIFFERENCE.match(d)) else d
                       for d in differences]
    return {"description": None, "hello": None, "expectations": None, "known": None, "counts": {},
            **b, "differences": differences, "version": b.get("version")}


def _upgrade_case(c) -> dict:
    if not isinstance(c, dict):
        return c
    return {"covers": [], "job": None, "curl": None, "frames": None, "rerun": None,
            "expected": None, "actual": None, "reason": None, "seconds": 0.0,
            **c, "verdict": c.get("verdict") or c.get("label")}


def builds(doc: dict) -> list[str]:
    return list(doc["builds"])


def cases_of(doc: dict, build: str) -> dict[str, dict]:
    return {c["id"]: c for c in doc["cases"] if c["client"] == build}


def pick(doc: dict, build: str | None, path: str) -> str:
    """The build to read from `doc`: the one named, or the only one there is."""
    names = builds(doc)
    if build is None:
        if len(names) != 1:
            raise ResultsError(f"{path} holds {len(names)} builds ({', '.join(names)}); "
                               f"name one with --build")
        return names[0]
    if build not in names:
        raise ResultsError(f"{path} has no build {build!r}; it holds {', '.join(names)}")
    return build


def merge(docs: dict[str, dict]) -> dict:
    """One document from several (path -> document), each holding other builds: the
    results of separate jobs of one CI matrix. The same build twice, or files from
    different suite commits or strictness, are an error naming both files."""
    out = {"schema": SCHEMA, "run": {}, "problems": [], "builds": {}, "cases": []}
    came_from: dict[str, str] = {}
    first_path = None
    for path, doc in docs.items():
        run = doc["run"]
        if first_path is None:
            first_path = path
            out["run"] = dict(run, counts={}, planned=run["planned"])
        else:
            _same_run(out["run"], run, first_path, path)
            merged = out["run"]
            merged["started"] = min(filter(None, (merged["started"], run["started"])), default=None)
            merged["finished"] = max(filter(None, (merged["finished"], run["finished"])), default=None)
            merged["complete"] = None if None in (merged["complete"], run["complete"]) \
                else merged["complete"] and run["complete"]
            merged["planned"] = None if None in (merged["planned"], run["planned"]) \
                else merged["planned"] + run["planned"]
        for name, build in doc["builds"].items():
            if name in came_from:
                raise ResultsError(f"{path}: build {name!r} is also in {came_from[name]}; merge "
                                   f"takes one results file per build")
            came_from[name] = path
            out["builds"][name] = build
        out["problems"] += [p for p in doc["problems"] if p not in out["problems"]]
        out["cases"] += doc["cases"]
    for c in out["cases"]:
        out["run"]["counts"][c["label"]] = out["run"]["counts"].get(c["label"], 0) + 1
    out["cases"].sort(key=lambda c: (c["id"], c["client"]))
    return out


def _same_run(a: dict, b: dict, path_a: str, path_b: str) -> None:
    for key in ("suite_version", "commit", "strict"):
        if a.get(key) is not None and b.get(key) is not None and a[key] != b[key]:
            raise ResultsError(f"{path_b}: {key} is {b[key]!r} but {path_a} has {a[key]!r}; "
                               f"merge results of one suite version and one --strict setting")
