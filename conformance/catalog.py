"""The case catalog: every `CASES` list in the modules of cases/."""
from __future__ import annotations

import importlib
import os
import pkgutil

from .case import Case, CaseDefinitionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES_DIR = os.path.join(ROOT, "cases")


def module_names() -> list[str]:
    return sorted(f"cases.{m.name}" for m in pkgutil.iter_modules([CASES_DIR])
                  if not m.name.startswith("_"))


def load_module(name: str) -> list[Case]:
    """Import one case module and validate every case in it."""
    where = name.replace(".", "/") + ".py"
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # a broken module must name itself, not crash the run
        raise CaseDefinitionError(f"{where}: cannot import: {type(exc).__name__}: {exc}") from exc
    cases = getattr(module, "CASES", None)
    if not isinstance(cases, (list, tuple)):
        raise CaseDefinitionError(f"{where}: must define CASES = [Case(...), ...]")
    for i, case in enumerate(cases):
        if not isinstance(case, Case):
            raise CaseDefinitionError(f"{where}: CASES[{i}] is a {type(case).__name__}, not a Case")
        case.validate(where)
    return list(cases)


def load_all() -> dict[str, Case]:
    catalog: dict[str, Case] = {}
    for name in module_names():
        for case in load_module(name):
            if case.id in catalog:
                raise CaseDefinitionError(f"{name}: duplicate case id {case.id!r}; ids must be unique")
            catalog[case.id] = case
    return catalog
