"""Every case names the requirement lines it covers, at their level (`conformance coverage`)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conformance import catalog, coverage

if not os.path.exists(coverage.DEFAULT_PATH):
    pytest.skip(f"no requirement catalog at {coverage.DEFAULT_PATH}", allow_module_level=True)


def test_every_case_covers_known_requirements_at_their_level():
    reqs = coverage.load()
    cases = list(catalog.load_all().values())
    assert not coverage.attach(reqs, cases)
    assert not [c.id for c in cases if not c.covers]
    assert not coverage.level_mismatches(reqs, cases)


def test_the_command_lists_ids_with_cases_and_the_uncovered():
    r = subprocess.run([sys.executable, "-m", "conformance", "coverage"], cwd=catalog.ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "R-6.8-2" in r.stdout and "9113/6.8/goaway-graceful-new-connection" in r.stdout
    assert "requirements," in r.stdout and "covered" in r.stdout


def test_an_unknown_id_is_an_error(tmp_path):
    bogus = tmp_path / "requirements.md"
    bogus.write_text("## 6.8 GOAWAY\n- `R-6.8-2` no new stream after GOAWAY (M, §6.8).\n")
    r = subprocess.run([sys.executable, "-m", "conformance", "coverage", "--requirements", str(bogus)],
                       cwd=catalog.ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "covers unknown requirement" in r.stderr
