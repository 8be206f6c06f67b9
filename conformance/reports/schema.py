"""The results.json schema (h2clientspec/results/3) as JSON Schema, and a checker for the
part of JSON Schema it uses (type, const, enum, required, properties, additionalProperties,
items), so reading a results file needs no extra package."""
from __future__ import annotations

LABELS = ["PASS", "FAIL", "FAIL-SHOULD", "NOT-EXERCISED", "UNSUPPORTED", "CRASH", "TIMEOUT", "ERROR"]
LEVELS = ["MUST", "SHOULD", "MAY"]

_TEXT = {"type": ["string", "null"]}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}

CASE = {
    "type": "object",
    "required": ["id", "client", "rfc", "section", "level", "requirement", "label", "verdict",
                 "expected", "actual", "reason", "seconds", "covers", "job", "curl", "frames",
                 "rerun"],
    "properties": {
        "id": {"type": "string"}, "client": {"type": "string"},
        "rfc": {"type": "string"}, "section": {"type": "string"},
        "level": {"enum": LEVELS}, "violated_level": {"enum": LEVELS + [None]},
        "requirement": {"type": "string"}, "server": _TEXT,
        "label": {"enum": LABELS}, "verdict": {"type": "string"},
        "expected": _TEXT, "actual": _TEXT, "reason": _TEXT,
        "seconds": {"type": "number"},
        "covers": {"type": "array", "items": {"type": "string"}},
        "job": {"type": ["object", "null"]},         # the `run` message the client was given
        "curl": _TEXT,                                # an equivalent curl command (curl family)
        "frames": _TEXT,                              # both directions, as on the console
        "rerun": _TEXT,                               # the command that runs this case alone
        "checks": {"type": "array", "items": {"type": "object"}},
        "outcomes": {"type": "array", "items": {"type": "object"}},
        "observations": {"type": "object"},
        "stderr": _TEXT,
    },
}

BUILD = {
    "type": "object",
    "required": ["version", "expectations", "differences", "counts"],
    "properties": {
        "description": _TEXT, "version": _TEXT, "hello": {"type": ["object", "null"]},
        "expectations": _TEXT,                        # the expectations file the run used
        "known": {"type": ["object", "null"], "additionalProperties": {"enum": LABELS}},
        "differences": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["id", "expected", "got"],
            "properties": {"id": {"type": "string"}, "expected": {"enum": LABELS},
                           "got": {"enum": LABELS}}}},
        "counts": _COUNTS,
    },
}

RESULTS = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "h2clientspec/results/3",
    "title": "h2clientspec results",
    "type": "object",
    "required": ["schema", "run", "problems", "builds", "cases"],
    "properties": {
        "schema": {"const": "h2clientspec/results/3"},
        "run": {"type": "object",
                "required": ["suite_version", "commit", "started", "finished", "strict", "complete",
                             "planned", "counts"],
                "properties": {
                    "suite_version": _TEXT, "commit": _TEXT, "commit_dirty": {"type": ["boolean", "null"]},
                    "started": _TEXT, "finished": _TEXT, "strict": {"type": "boolean"},
                    "complete": {"type": ["boolean", "null"]},   # null: not recorded (older files)
                    "planned": {"type": ["integer", "null"]},    # case items the run selected
                    "counts": _COUNTS}},
        "problems": {"type": "array", "items": {   # modules that failed to load, cases without a verdict
            "type": "object", "required": ["where", "message"],
            "properties": {"where": {"type": "string"}, "message": {"type": "string"}}}},
        "builds": {"type": "object", "additionalProperties": BUILD},
        "cases": {"type": "array", "items": CASE},
    },
}

_TYPES = {"object": dict, "array": list, "string": str, "number": (int, float), "integer": int,
          "boolean": bool, "null": type(None)}


def problem(value, schema: dict, where: str = "") -> str | None:
    """The first place where `value` breaks `schema`, as 'field: what is wrong', or None."""
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_is(value, t) for t in types):
            return f"{where or 'the document'}: expected {' or '.join(types)}, got {_kind(value)}"
    if "const" in schema and value != schema["const"]:
        return f"{where}: must be {schema['const']!r}, got {value!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: {value!r} is not one of {', '.join(map(str, schema['enum']))}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                return f"{_join(where, key)}: missing"
        props, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = props.get(key, extra)
            if sub is False:
                return f"{_join(where, key)}: unexpected field"
            found = problem(item, sub, _join(where, key)) if isinstance(sub, dict) else None
            if found:
                return found
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found = problem(item, schema["items"], f"{where}[{i}]")
            if found:
                return found
    return None


def _is(value, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[name])


def _kind(value) -> str:
    return next((n for n in ("null", "boolean", "integer", "number", "string", "array", "object")
                 if _is(value, n)), type(value).__name__)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
