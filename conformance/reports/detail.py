"""What every report shows of one case record of results.json: its level, the job in
words, the checks it failed, the client's trace, and all of it as plain text."""
from __future__ import annotations

import base64
import re

_CONTROLS = {}   # keep -> the control characters to escape, as a compiled class


def _controls(keep: str) -> re.Pattern:
    if keep not in _CONTROLS:
        chars = "".join(chr(c) for c in [*range(0x20), 0x7f] if chr(c) not in keep)
        _CONTROLS[keep] = re.compile("[" + re.escape(chars) + "]")
    return _CONTROLS[keep]


def escaped(text: str, keep: str = "") -> str:
    """NUL, CR, LF and other control bytes as escapes (except those in `keep`), so that no
    report line is faked by what a server or client sent."""
    return _controls(keep).sub(lambda m: repr(m.group())[1:-1], text)


def one_line(text: str, limit: int) -> str:
    """Control characters escaped, cut at `limit` with a visible ellipsis."""
    text = escaped(text.strip())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def cell_level(c: dict) -> str:
    """The level a verdict stands at: the level it broke (a MUST case can fail a SHOULD
    check), else the case's own."""
    return c.get("violated_level") or c["level"]


def kind(c: dict, known: dict | None, strict: bool) -> tuple[str, str]:
    """(failure | error | skipped | passed, why) for one case, as the run judged it: with an
    expectations file (`known`) only a difference fails; without one, the level does."""
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


def reason(c: dict) -> str:
    return c.get("actual") or c.get("reason") or ""


def job_lines(job: dict) -> list[str]:
    """The `run` message in words: mode, then per request its method, URL, HTTP version,
    headers and body."""
    out = [f"{job.get('mode')} requests, connection {job.get('connection')}, TLS session cache "
           f"{job.get('tls_session_cache')}, timeout {job.get('timeout_ms')} ms each"]
    for i, req in enumerate(job.get("requests") or [], 1):
        body = req.get("body_b64")
        size = len(base64.b64decode(body)) if body is not None else req.get("body_len")
        out.append(f"request {i}: {req.get('method')} {req.get('url')} ({req.get('http_version')})"
                   + (f", body {size} bytes" if size is not None else ""))
        out += [f"  {name}: {value}" for name, value in req.get("headers") or []]
    return [escaped(line) for line in out]


def failed_checks(c: dict) -> list[str]:
    return [f"{ch.get('expected')} -- got: {ch.get('actual')}" for ch in c.get("checks") or []
            if not ch.get("passed")]


def client_trace(c: dict) -> str:
    """The adapter's trace of every transfer, in request order."""
    outcomes = c.get("outcomes") or []
    parts = [f"== request {i}\n{o['trace'].rstrip()}" if len(outcomes) > 1 else o["trace"].rstrip()
             for i, o in enumerate(outcomes, 1) if isinstance(o, dict) and o.get("trace")]
    return escaped("\n".join(parts), keep="\n\t")


def text(c: dict) -> str:
    """Requirement, expected, actual, the job, frames both ways, trace and the rerun
    command, as plain text (JUnit's system-out)."""
    lines = [f"{c['id']} [{cell_level(c)}] {c['label']} ({c['client']})",
             f"Requirement: {c['requirement']}" + (f" ({', '.join(c['covers'])})" if c.get("covers") else ""),
             f"Expected: {c.get('expected') or '-'}", f"Actual: {reason(c)}"]
    lines = [escaped(line) for line in lines]
    lines += [f"Failed check: {escaped(f)}" for f in failed_checks(c)]
    if c.get("job"):
        lines += ["", "Asked of the client:"] + [f"  {line}" for line in job_lines(c["job"])]
    if c.get("curl"):
        lines += ["", "As a curl command:", c["curl"]]
    lines += ["", "Frames exchanged:", escaped(c.get("frames") or "(not recorded)", keep="\n")]
    trace = client_trace(c)
    if trace:
        lines += ["", "Client trace:", trace]
    lines += ["", "Rerun this case alone:", f"  {c.get('rerun') or '(not recorded)'}"]
    return "\n".join(lines)
