"""Which suite wrote a report: its version, and its git commit when run from a checkout."""
from __future__ import annotations

import os
import subprocess
from importlib import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def suite_version() -> str:
    try:
        return metadata.version("h2clientspec")
    except metadata.PackageNotFoundError:
        return "unknown"


def commit() -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether tracked files differ from it), or (None, None) outside git."""
    if not os.path.exists(os.path.join(ROOT, ".git")):
        return None, None
    try:
        head = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head or None, dirty


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()
