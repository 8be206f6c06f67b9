"""Client builds by name: clients.toml, plus the builds users prepare themselves
(`make build NAME=... CURL_CONFIG=...` writes builds/NAME/client.toml).

An entry: `description`, `command` (the adapter, speaking docs/clients.md), optional
`prepare` (what `make builds` runs; the build is prepared once builds/NAME/.prepared
exists), `env` (added to the adapter's environment) and `matrix` (part of `make matrix`).
Placeholders in strings: {python} the interpreter running the suite, {root} this
checkout (installed: the folder holding the conformance package, where
`python -m conformance.clients.X` works), {builds} the folder prepared builds live in.
"""
from __future__ import annotations

import glob
import os
import sys
import tomllib
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A link to the checkout's clients.toml; its copy inside an installed package.
REGISTRY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "clients.toml")
BUILDS_DIR = os.environ.get("H2CS_BUILDS", os.path.join(ROOT, "builds"))
DEFAULT_CLIENT = "pycurl-wheel"
KEYS = {"description", "command", "prepare", "env", "matrix"}


class UnknownClient(LookupError):
    pass


@dataclass(frozen=True)
class Build:
    name: str
    argv: tuple[str, ...]
    description: str = ""
    prepare: tuple[str, ...] | None = None
    env: dict = field(default_factory=dict)
    matrix: bool = False
    source: str = ""

    @property
    def stamp(self) -> str:
        return os.path.join(BUILDS_DIR, self.name, ".prepared")

    @property
    def prepared(self) -> bool:
        """A build without a preparation step is always ready."""
        return self.prepare is None or os.path.exists(self.stamp)

    def environ(self) -> dict:
        env = dict(os.environ)
        env.update(self.env)
        return env


def _expand(text: str) -> str:
    return text.replace("{python}", sys.executable).replace("{root}", ROOT).replace(
        "{builds}", BUILDS_DIR)


def _strings(value) -> bool:
    return isinstance(value, list) and value and all(isinstance(c, str) for c in value)


def _entries(path: str) -> dict[str, Build]:
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UnknownClient(f"cannot read client registry {path}: {exc}") from exc
    builds = {}
    for name, entry in table.items():
        if not isinstance(entry, dict):
            raise UnknownClient(f"{path}: [{name}] must be a table")
        unknown = set(entry) - KEYS
        if unknown:
            raise UnknownClient(f"{path}: [{name}] has unknown key(s) {', '.join(sorted(unknown))}; "
                                f"known: {', '.join(sorted(KEYS))}")
        if not _strings(entry.get("command")):
            raise UnknownClient(f"{path}: [{name}] needs command = [\"program\", \"args\", ...]")
        prepare = entry.get("prepare")
        if prepare is not None and not _strings(prepare):
            raise UnknownClient(f"{path}: [{name}] prepare must be a list of strings")
        env = entry.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise UnknownClient(f"{path}: [{name}] env must be a table of strings")
        builds[name] = Build(name, tuple(_expand(c) for c in entry["command"]),
                             entry.get("description", ""),
                             tuple(_expand(c) for c in prepare) if prepare else None,
                             {k: _expand(v) for k, v in env.items()},
                             bool(entry.get("matrix", False)), path)
    return builds


def load(path: str | None = None) -> dict[str, Build]:
    """Every known build: the registry file, then the user builds under builds/."""
    builds = _entries(path or REGISTRY)
    if path is None:
        for extra in sorted(glob.glob(os.path.join(BUILDS_DIR, "*", "client.toml"))):
            for name, build in _entries(extra).items():
                if name in builds:
                    raise UnknownClient(f"{extra}: build {name!r} is already in {builds[name].source}")
                builds[name] = build
    return builds


def matrix(path: str | None = None) -> list[Build]:
    """The builds of `make matrix`: marked matrix = true and prepared on this machine."""
    return [b for b in load(path).values() if b.matrix and b.prepared]


def find(name: str, path: str | None = None) -> Build:
    builds = load(path)
    if name not in builds:
        raise UnknownClient(f"unknown client build {name!r}; known builds: {', '.join(sorted(builds))}"
                            f" (add one to {path or 'clients.toml'}, or prepare your own with "
                            f"'make build NAME=... CURL_CONFIG=...')")
    build = builds[name]
    if not build.prepared:
        raise UnknownClient(f"client build {name!r} is not prepared on this machine; run "
                            f"'make builds' (or: {' '.join(build.prepare)})")
    return build
