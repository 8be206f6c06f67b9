"""Expectation files: the known verdicts of one client build.

A JSON object mapping case id to verdict label for every case that does not
PASS; a case missing from the file is expected to PASS.
"""
from __future__ import annotations

import json

from .detail import one_line

LABELS = {"PASS", "FAIL", "FAIL-SHOULD", "NOT-EXERCISED", "UNSUPPORTED", "CRASH", "TIMEOUT", "ERROR"}


class ExpectationsError(ValueError):
    pass


class Expected(dict):
    """case id -> label; missing ids default to PASS. `client_version` is the runtime
    version string of the build the file was recorded from."""

    client_version: str | None = None

    def get(self, key, default=None):
        return super().get(key, "PASS")


def load(path: str) -> Expected:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ExpectationsError(f"cannot read expectations file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ExpectationsError(f"expectations file {path} is not valid JSON: {exc}") from None
    known = doc.get("known") if isinstance(doc, dict) else None
    if not isinstance(known, dict):
        raise ExpectationsError(f"expectations file {path} must be {{\"known\": {{case-id: verdict}}}}")
    for cid, label in known.items():
        if label not in LABELS:
            raise ExpectationsError(f"{path}: {cid!r} has verdict {label!r}; use one of {sorted(LABELS)}")
    exp = Expected(known)
    exp.client_version = doc.get("client_version")
    return exp


def from_results(results: dict[str, dict], client: str, version: str | None) -> dict:
    """`evidence` keeps, per known verdict, the one line the verdict was judged on."""
    known = {k: r for k, r in sorted(results.items()) if r["label"] != "PASS"}
    return {"client": client, "client_version": version,
            "known": {k: r["label"] for k, r in known.items()},
            "evidence": {k: one_line(r.get("actual") or r.get("reason") or "", 300)
                         for k, r in known.items()}}


def differences(expected: Expected, results: dict[str, dict]) -> list[dict]:
    """Every case of `results` whose verdict is not the one `expected` names."""
    return [{"id": cid, "expected": expected.get(cid), "got": r["label"]}
            for cid, r in sorted(results.items()) if expected.get(cid) != r["label"]]
