"""The `h2clientspec` command of an installed suite.

  h2clientspec run [--client NAME] [--case ID] [--reports DIR] [-n N] [--expectations PATH] [pytest args]
  h2clientspec serve CASE_ID [...]      serve one case by hand (python -m servers serve)
  h2clientspec list|diff|report|merge|... the commands of `python -m conformance`
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import NoReturn

from . import catalog

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
EXPECTATIONS = os.path.join(PACKAGE_DIR, "expectations")   # BUILD.json per build, shipped
USAGE = __doc__.split("\n\n", 1)[1]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage:\n{USAGE}\n'h2clientspec COMMAND --help' tells more.",
              file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "run":
        return run(argv[1:])
    if argv[0] == "serve":
        serve(argv)   # does not return
    from .__main__ import main as conformance_main
    return conformance_main(argv)


def run(argv: list[str]) -> int:
    """The catalog as `make conformance` runs it, on the cases installed beside this
    package, from any folder; arguments it does not know go to pytest (-k, -m, --strict...)."""
    import pytest
    p = argparse.ArgumentParser(prog="h2clientspec run", description=run.__doc__)
    p.add_argument("--client", action="append", default=[], metavar="NAME",
                   help="client build (repeatable; `h2clientspec builds` lists them)")
    p.add_argument("--case", action="append", default=[], metavar="ID", help="one case id (repeatable)")
    p.add_argument("--reports", default="reports", metavar="DIR", help="default: ./reports")
    p.add_argument("-n", dest="workers", metavar="N",
                   help="parallel workers (default: auto, or 0 when --case picks the cases)")
    p.add_argument("--expectations", default=EXPECTATIONS, metavar="FILE|DIR",
                   help="known verdicts (default: the ones shipped with the suite)")
    args, extra = p.parse_known_args(argv)
    workers = args.workers or ("0" if args.case else "auto")
    with tempfile.TemporaryDirectory(prefix="h2cs-root-") as scratch:
        root = _suite_root(scratch)
        # `-c /dev/null` and --confcutdir keep ini files and conftest.py found above the
        # suite out of the run.
        return int(pytest.main([
            os.path.join(root, "cases"), "--rootdir", root, "-c", os.devnull, "--confcutdir", root,
            "-p", "conformance.plugin", "-p", "no:cacheprovider", "--assert=plain", "-n", workers,
            *[f"--client={c}" for c in args.client], *[f"--case={c}" for c in args.case],
            f"--reports={args.reports}", f"--expectations={args.expectations}", *extra]))


def _suite_root(scratch: str) -> str:
    """The run's rootdir: the plugin collects <rootdir>/cases and starts every adapter in
    <rootdir>, so that `python -m conformance.clients.X` imports this suite in any build's
    interpreter. A checkout holds only the suite; installed, the suite's packages sit in
    site-packages beside others (a pycurl that would shadow a build's own), so the run gets
    a folder linking the suite's packages alone."""
    root = os.path.dirname(catalog.CASES_DIR)
    if os.path.isfile(os.path.join(root, "clients.toml")):   # a checkout
        return root
    for package in ("cases", "conformance", "servers"):
        os.symlink(os.path.join(root, package), os.path.join(scratch, package))
    return scratch


def serve(argv: list[str]) -> NoReturn:
    """Become `python -m servers serve ...`, so that every signal reaches the server itself.
    -P: a `servers` folder in the current directory must not shadow the suite's."""
    os.execv(sys.executable, [sys.executable, "-P", "-m", "servers", *argv])
