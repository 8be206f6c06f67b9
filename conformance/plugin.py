"""The pytest plugin: cases become items, verdicts become reports.

Items are collected from the modules in cases/; each item's name is the case
slug. Options: --client, --case, --expectations, --reports; pytest's own
--strict also turns SHOULD failures into failures.
"""
from __future__ import annotations

import warnings

import pytest

from servers.transport import ServerSet

from . import catalog
from .case import CaseDefinitionError
from .clients import registry
from .clients.process import AdapterError, ClientProcess
from .reports import expectations as expfile
from .reports import writers
from .runner import CaseResult, failure_report, level_fails, run_case
from .verdicts.verdict import Outcome

PROP = "h2clientspec"


class ShouldWarning(UserWarning):
    """A SHOULD-level requirement was not met (a failure only with --strict)."""


def pytest_addoption(parser):
    g = parser.getgroup("h2clientspec", "HTTP/2 client conformance")
    g.addoption("--client", default=registry.DEFAULT_CLIENT,
                help="client build from clients.toml (default: %(default)s)")
    g.addoption("--clients-file", default=None, help="another client registry (TOML)")
    g.addoption("--case", action="append", default=[], metavar="ID",
                help="run only this case id (repeatable)")
    g.addoption("--expectations", default=None, metavar="FILE",
                help="known verdicts of this build; only differences fail the run")
    g.addoption("--reports", default=None, metavar="DIR",
                help="write results.json, junit.xml and summary.txt here")


def pytest_configure(config):
    for level in ("must", "should", "may"):
        config.addinivalue_line("markers", f"{level}: cases checking a {level.upper()} requirement")
    config.addinivalue_line("markers", "regression: cases that reproduce a public client bug")
    config.addinivalue_line("markers", "waits: cases where a client timeout is the behaviour under test")
    for rfc in ("rfc9113", "rfc7541", "rfc8446", "rfc7301", "tls", "alpn", "baseline"):
        config.addinivalue_line("markers", f"{rfc}: cases from {rfc}")
    config._h2cs = Session(config)


def pytest_collect_file(file_path, parent):
    if (file_path.suffix == ".py" and file_path.parent == _cases_dir(parent.config)
            and not file_path.name.startswith("_")):
        return CaseModule.from_parent(parent, path=file_path)
    return None


def _cases_dir(config):
    return config.rootpath / "cases"


class CaseModule(pytest.File):
    def collect(self):
        for case in catalog.load_module(f"cases.{self.path.stem}"):
            item = CaseItem.from_parent(self, name=case.id)
            item.case = case
            for marker in _markers(case):
                if marker.startswith("sec_"):  # section markers are registered as found
                    self.config.addinivalue_line("markers", f"{marker}: cases of that RFC section")
                item.add_marker(marker)
            yield item

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseDefinitionError):
            return f"malformed case definition: {excinfo.value}"
        return super().repr_failure(excinfo)


def _markers(case) -> list[str]:
    marks = [case.level.value.lower(), {"9113": "rfc9113", "7541": "rfc7541", "8446": "rfc8446",
                                        "7301": "rfc7301"}.get(case.rfc, case.rfc)]
    parts = case.section.split(".")
    marks += ["sec_" + "_".join(parts[:n]) for n in range(1, len(parts) + 1) if parts[0].isdigit()]
    if case.regression:
        marks.append("regression")
    if case.waits:
        marks.append("waits")
    return marks


def pytest_collection_modifyitems(session, config, items):
    wanted = config.getoption("case")
    if not wanted:
        return
    ids = {getattr(i, "case", None) and i.case.id for i in items}
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        raise pytest.UsageError(f"unknown case id {unknown[0]!r}; list them with "
                                f"'python -m conformance list' (ids look like 9113/6.5.2/enable-push-1)")
    keep = [i for i in items if getattr(i, "case", None) and i.case.id in wanted]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


class CaseFailed(Exception):
    pass


class CaseItem(pytest.Item):
    case = None

    def runtest(self):
        h2 = self.config._h2cs
        result = h2.run(self.case)
        self.user_properties.append((PROP, result.to_json()))
        self.user_properties.append((PROP + "-client", h2.client.hello if h2.client else None))
        verdict, known = result.verdict, h2.expected.get(self.case.id)
        if known is not None:
            if verdict.label != known:
                raise CaseFailed(f"verdict changed: expected {known} (from {h2.expectations_path}), "
                                 f"got {verdict.label}\n\n" + failure_report(result))
            if verdict.outcome is not Outcome.PASS:
                pytest.xfail(f"known {known}: {verdict.actual or verdict.reason}"[:300])
            return
        if verdict.outcome is Outcome.UNSUPPORTED:
            pytest.skip(f"UNSUPPORTED: {verdict.reason}")
        if level_fails(verdict, h2.strict):
            raise CaseFailed(failure_report(result))
        if verdict.outcome is Outcome.FAIL:
            warnings.warn(ShouldWarning(f"{self.case.id}: SHOULD not met: {verdict.actual}"))

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.case.id


class Session:
    """Per-process state: the worker's servers and client process, and (on the
    controller) the verdicts gathered from every worker."""

    def __init__(self, config):
        self.config = config
        self.strict = bool(config.getoption("strict", False))
        self.client_name = config.getoption("client")
        try:
            self.build = registry.find(self.client_name, config.getoption("clients_file"))
        except registry.UnknownClient as exc:
            raise pytest.UsageError(str(exc)) from None
        self.expectations_path = config.getoption("expectations")
        try:
            self.expected = expfile.load(self.expectations_path) if self.expectations_path else {}
        except expfile.ExpectationsError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.servers: ServerSet | None = None
        self.client: ClientProcess | None = None
        self.results: dict[str, dict] = {}
        self.client_info: dict | None = None

    def run(self, case) -> CaseResult:
        if self.servers is None:
            self.servers = ServerSet()
        if self.client is None:
            self.client = ClientProcess(self.client_name, list(self.build.argv), cwd=str(self.config.rootpath))
            try:
                self.client.start()
            except AdapterError as exc:
                self.client = None
                pytest.fail(str(exc), pytrace=False)
        return run_case(case, self.servers, self.client, self.client_name)

    def close(self):
        if self.client is not None:
            self.client.close()
        if self.servers is not None:
            self.servers.close()


def pytest_runtest_logreport(report):
    if not _CONFIG:
        return
    h2 = _CONFIG[0]._h2cs
    for name, value in getattr(report, "user_properties", []):
        if name == PROP:
            h2.results[value["id"]] = value
        elif name == PROP + "-client" and value:
            h2.client_info = value


_CONFIG = []  # the running config, for hooks that are not handed one


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    _CONFIG[:] = [session.config]


def pytest_sessionfinish(session, exitstatus):
    h2 = session.config._h2cs
    h2.close()
    if hasattr(session.config, "workerinput") or not h2.results:
        return  # workers report through the controller; never overwrite reports with nothing
    reports_dir = session.config.getoption("reports")
    if reports_dir:
        writers.write_all(reports_dir, h2.results, h2.client_name, h2.client_info, strict=h2.strict)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    h2 = config._h2cs
    if hasattr(config, "workerinput") or not h2.results:
        return
    terminalreporter.write_sep("=", "h2clientspec verdicts by section")
    terminalreporter.write_line(writers.summary_text(h2.results))
    if h2.expectations_path:
        diff = expfile.diff(h2.expected, h2.results)
        terminalreporter.write_sep("-", f"differences from {h2.expectations_path}: {len(diff)}")
        for line in diff:
            terminalreporter.write_line(line)
