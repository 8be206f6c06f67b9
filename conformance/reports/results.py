"""Reading results.json: schema check, and the cases of one build.

Schema 2 holds several builds (`builds`, and `client` on every case); schema 1
files (one build, named in `run.client`) are read as a schema 2 document.
"""
from __future__ import annotations

import json

SCHEMA = "h2clientspec/results/2"
READABLE = (SCHEMA, "h2clientspec/results/1")
CASE_KEYS = ("id", "client", "label", "level")


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
    if not isinstance(doc, dict) or doc.get("schema") not in READABLE:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ResultsError(f"{path}: not an h2clientspec results file (schema {found!r}; "
                           f"expected one of {', '.join(READABLE)})")
    if doc["schema"] != SCHEMA:
        run = doc.get("run") or {}
        name = run.get("client") or "client"
        doc = {"schema": SCHEMA, "run": run,
               "builds": {name: {"version": run.get("client_version"), "hello": run.get("client_hello")}},
               "cases": [dict(c, client=c.get("client") or name) for c in doc.get("cases", [])]}
    if not isinstance(doc.get("builds"), dict) or not isinstance(doc.get("cases"), list):
        raise ResultsError(f"{path}: 'builds' must be an object and 'cases' a list")
    for i, c in enumerate(doc["cases"]):
        missing = [k for k in CASE_KEYS if not isinstance(c, dict) or k not in c]
        if missing:
            raise ResultsError(f"{path}: cases[{i}] lacks {', '.join(missing)}")
        if c["client"] not in doc["builds"]:
            raise ResultsError(f"{path}: cases[{i}] names build {c['client']!r}, not in 'builds'")
    return doc


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
