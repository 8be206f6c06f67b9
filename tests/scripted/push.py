"""Server push for the scripted client (§8.4), when a job enables it (docs/clients.md `push`):
is a promised request acceptable, and the reserved streams' limit."""
from __future__ import annotations

MAX_RESERVED = 32      # §10.5: streams at most in reserved (remote) at once; more is ENHANCE_YOUR_CALM
SAFE_CACHEABLE = {"GET", "HEAD"}   # RFC 9110 §9.2.1 safe and §9.2.3 cacheable methods
REQUIRED = (":method", ":scheme", ":authority", ":path")


def promise_problem(fields: list[tuple[str, str]], scheme: str, authority: str) -> str | None:
    """What makes a promised request invalid (§8.4, §8.4.1), or None."""
    pseudo = [name for name, _ in fields if name.startswith(":")]
    for name in REQUIRED:
        if pseudo.count(name) != 1:
            return f"{name} missing or repeated"
    if set(pseudo) - set(REQUIRED):
        return f"unexpected pseudo-headers {sorted(set(pseudo) - set(REQUIRED))}"
    if any(name.startswith(":") for name, _ in fields[len(pseudo):]):
        return "a pseudo-header after a regular field"
    value = dict(fields)
    if value[":method"] not in SAFE_CACHEABLE:
        return f"method {value[':method']} is not safe and cacheable"
    if value.get("content-length", "0").strip() != "0" or "transfer-encoding" in value:
        return "the promised request announces content"
    if (value[":scheme"], value[":authority"]) != (scheme, authority):
        return f"the server is not authoritative for {value[':scheme']}://{value[':authority']}"
    return None
