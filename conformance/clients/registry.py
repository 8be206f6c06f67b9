"""Client builds by name, from clients.toml."""
from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_CLIENT = "pycurl-wheel"


class UnknownClient(LookupError):
    pass


@dataclass(frozen=True)
class Build:
    name: str
    argv: tuple[str, ...]
    description: str = ""


def load(path: str | None = None) -> dict[str, Build]:
    path = path or os.path.join(ROOT, "clients.toml")
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UnknownClient(f"cannot read client registry {path}: {exc}") from exc
    builds = {}
    for name, entry in table.items():
        cmd = entry.get("command") if isinstance(entry, dict) else None
        if not (isinstance(cmd, list) and cmd and all(isinstance(c, str) for c in cmd)):
            raise UnknownClient(f"{path}: [{name}] needs command = [\"program\", \"args\", ...]")
        argv = tuple(c.replace("{python}", sys.executable).replace("{root}", ROOT) for c in cmd)
        builds[name] = Build(name, argv, entry.get("description", ""))
    return builds


def find(name: str, path: str | None = None) -> Build:
    builds = load(path)
    if name not in builds:
        raise UnknownClient(f"unknown client build {name!r}; known builds: {', '.join(sorted(builds))}"
                            f" (add one to {path or 'clients.toml'})")
    return builds[name]
