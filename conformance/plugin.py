"""The pytest plugin: cases × client builds become items, verdicts become reports.

Items are collected from the modules in cases/, one per case and build; an
item's name is the case slug, with `[build]` appended when several builds run.
Options: --client (repeatable), --matrix, --case, --expectations, --reports;
pytest's own --strict also turns SHOULD failures into failures.
"""
from __future__ import annotations

import gc
import json
import os
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from servers import tls
from servers.tls import interrupt_on_termination
from servers.transport import ServerSet

from . import catalog
from .case import CaseDefinitionError
from .clients import registry
from .clients.process import AdapterError, ClientProcess
from .reports import expectations as expfile
from .reports import provenance, writers
from .reports.detail import escaped
from .runner import CaseResult, failure_report, level_fails, run_case
from .verdicts.verdict import Outcome

PROP = "h2clientspec"


class ShouldWarning(UserWarning):
    """A SHOULD-level requirement was not met (a failure only with --strict)."""


def pytest_addoption(parser):
    g = parser.getgroup("h2clientspec", "HTTP/2 client conformance")
    g.addoption("--client", action="append", default=[], metavar="NAME",
                help=f"client build from clients.toml (repeatable; default: {registry.DEFAULT_CLIENT})")
    g.addoption("--matrix", action="store_true",
                help="every prepared build marked matrix = true in clients.toml (see 'make builds')")
    g.addoption("--clients-file", default=None, help="another client registry (TOML)")
    g.addoption("--case", action="append", default=[], metavar="ID",
                help="run only this case id (repeatable)")
    g.addoption("--expectations", default=None, metavar="FILE|DIR",
                help="known verdicts: a file for one build, or a folder holding BUILD.json per build; "
                     "only differences fail the run")
    g.addoption("--reports", default=None, metavar="DIR",
                help="write results.json, junit.xml, summary.txt, summary.md and report.html here")


def pytest_configure(config):
    for level in ("must", "should", "may"):
        config.addinivalue_line("markers", f"{level}: cases checking a {level.upper()} requirement")
    config.addinivalue_line("markers", "regression: cases that reproduce a public client bug")
    config.addinivalue_line("markers", "waits: cases where a client timeout is the behaviour under test")
    for rfc in ("rfc9113", "rfc7541", "rfc8441", "rfc8446", "rfc7301", "rfc9218", "tls", "alpn",
                "baseline"):
        config.addinivalue_line("markers", f"{rfc}: cases from {rfc}")
    config._h2cs = Session(config)
    interrupt_on_termination()   # SIGTERM and SIGHUP end a run as Ctrl-C does (servers/tls.py)


def pytest_collect_file(file_path, parent):
    if (file_path.suffix == ".py" and file_path.parent == _cases_dir(parent.config)
            and not file_path.name.startswith("_")):
        return CaseModule.from_parent(parent, path=file_path)
    return None


def _cases_dir(config):
    return config.rootpath / "cases"


class CaseModule(pytest.File):
    def collect(self):
        h2 = self.config._h2cs
        builds = list(h2.builds)
        cases = catalog.load_module(f"cases.{self.path.stem}")
        h2.claim_ids(cases, f"cases/{self.path.name}")
        for case in cases:
            for build in builds:
                name = case.id if len(builds) == 1 else f"{case.id}[{build}]"
                item = CaseItem.from_parent(self, name=name)
                item.case, item.build = case, build
                for marker in _markers(case):
                    item.add_marker(_mark(self.config, marker))
                yield item

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseDefinitionError):
            return f"malformed case definition: {excinfo.value}"
        return super().repr_failure(excinfo)


def _mark(config, name: str):
    """The MarkDecorator for a marker name, made once per run (pytest checks the name against
    every registered marker each time one is made from a string)."""
    marks = config._h2cs.marks
    if name not in marks:
        if name.startswith("sec_"):  # section markers are registered as found
            config.addinivalue_line("markers", f"{name}: cases of that RFC section")
        marks[name] = getattr(pytest.mark, name)
    return marks[name]


def _markers(case) -> list[str]:
    marks = [case.level.value.lower(), {"9113": "rfc9113", "7541": "rfc7541", "8441": "rfc8441",
                                        "8446": "rfc8446", "7301": "rfc7301",
                                        "9218": "rfc9218"}.get(case.rfc, case.rfc)]
    parts = case.section.split(".")
    marks += ["sec_" + "_".join(parts[:n]) for n in range(1, len(parts) + 1) if parts[0].isdigit()]
    if case.regression:
        marks.append("regression")
    if case.waits:
        marks.append("waits")
    return marks


def pytest_collectreport(report):
    """A case module that cannot be loaded is a problem of the run: it fails the run and
    appears in every report."""
    config = _CONFIG[0] if _CONFIG else None
    if config is not None and report.failed and _is_case_path(config, report.nodeid):
        config._h2cs.problems.append({"where": report.nodeid, "message": str(report.longrepr).strip()})


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """Broken case modules do not stop the other cases (as under xdist); they fail the run.
    An adapter that could not start stops it here, where xdist still takes its workers down."""
    if session.config._h2cs.start_error:
        raise pytest.UsageError(session.config._h2cs.start_error)
    if session.testsfailed and session.testsfailed == len(session.config._h2cs.problems):
        session.config.option.continue_on_collection_errors = True


def _is_case_path(config, nodeid: str) -> bool:
    return (config.rootpath / nodeid.split("::", 1)[0]).parent == _cases_dir(config)


def pytest_collection_modifyitems(session, config, items):
    wanted = config.getoption("case")
    if not wanted:
        return
    ids = {getattr(i, "case", None) and i.case.id for i in items}
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        broken = [p["where"] for p in config._h2cs.problems]
        raise pytest.UsageError(f"unknown case id {unknown[0]!r}; list them with "
                                f"'python -m conformance list' (ids look like 9113/6.5.2/enable-push-1)"
                                + (f"; these case modules failed to load: {', '.join(broken)}" if broken else ""))
    keep = [i for i in items if getattr(i, "case", None) and i.case.id in wanted]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


class CaseFailed(Exception):
    pass


class CaseItem(pytest.Item):
    case = None
    build = registry.DEFAULT_CLIENT

    def runtest(self):
        h2 = self.config._h2cs
        result = h2.run(self.case, self.build)
        # one JSON string: xdist's serializer is pure Python, slow on a deep dict of frames
        self.user_properties.append((PROP, json.dumps(result.to_json(), default=str)))
        self.user_properties.append((PROP + "-client", [self.build, h2.hello_of(self.build)]))
        verdict, known = result.verdict, h2.known(self.build, self.case.id)
        if known is not None:
            if verdict.label != known:
                raise CaseFailed(f"verdict changed: expected {known} (from {h2.expectations_of(self.build)}), "
                                 f"got {verdict.label}\n\n" + failure_report(result))
            if verdict.outcome is not Outcome.PASS:
                pytest.xfail(escaped(f"known {known}: {verdict.actual or verdict.reason}"))
            return
        if verdict.outcome is Outcome.UNSUPPORTED:
            pytest.skip(f"UNSUPPORTED: {verdict.reason}")
        if verdict.outcome is Outcome.NOT_EXERCISED:
            pytest.skip(f"NOT-EXERCISED: {verdict.reason}")
        if level_fails(verdict, h2.strict):
            raise CaseFailed(failure_report(result))
        if verdict.outcome is Outcome.FAIL:
            warnings.warn(ShouldWarning(f"{self.case.id} [{self.build}]: SHOULD not met: {verdict.actual}"))

    def repr_failure(self, excinfo):
        # a verdict is its own report; pytest's traceback formatting (source lines for
        # every frame) would cost more than the case did
        if isinstance(excinfo.value, (CaseFailed, pytest.xfail.Exception)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name


class Session:
    """Per-process state: the worker's servers and client processes, and (on the
    controller) the verdicts gathered from every worker."""

    def __init__(self, config):
        self.config = config
        self.strict = bool(config.getoption("strict", False))
        self.builds = _builds(config)
        self.expected, self.expected_paths = _expectations(config.getoption("expectations"), self.builds)
        _check_reports_dir(config.getoption("reports"))
        self.servers: ServerSet | None = None
        self.clients: dict[str, ClientProcess] = {}
        self.results: dict[tuple[str, str], dict] = {}
        self.hellos: dict[str, dict] = {}
        self.started = writers.now()
        self.problems: list[dict] = []      # case modules that failed to load, cases without a verdict
        self.planned: int | None = None     # case items selected for the run
        self.case_ids: dict[str, str] = {}  # case id -> the module defining it
        self.doc: dict | None = None        # the run's results document, once finished
        self.marks: dict = {}               # marker name -> MarkDecorator (see _mark)
        self._starting: ThreadPoolExecutor | None = None   # start_adapters, until awaited
        self._starts: list = []
        self.start_error: str | None = None  # the controller's adapters that could not start

    def claim_ids(self, cases, where: str) -> None:
        """Case ids are unique across modules: a second definition would hide the first."""
        twice = [f"{c.id!r} (also in {self.case_ids[c.id]})" for c in cases if c.id in self.case_ids]
        if twice:
            raise CaseDefinitionError(f"{where}: duplicate case id {', '.join(twice)}; ids must be unique")
        self.case_ids.update((c.id, where) for c in cases)

    def results_of(self, build: str) -> dict[str, dict]:
        return {cid: r for (b, cid), r in self.results.items() if b == build}

    def version_of(self, build: str) -> str | None:
        return ((self.hellos.get(build) or {}).get("client") or {}).get("version")

    # -- expectations -------------------------------------------------------
    def known(self, build: str, case_id: str) -> str | None:
        exp = self.expected.get(build)
        return None if exp is None else exp.get(case_id)

    def expectations_of(self, build: str) -> str | None:
        return self.expected_paths.get(build)

    def banner(self) -> list[str]:
        """The run's first lines: every client build with its full runtime version."""
        lines = [f"h2clientspec {provenance.suite_version()}: client {name}: "
                 f"{escaped(self.version_of(name) or 'version unknown')}" for name in self.builds]
        return lines + [f"  warning: {escaped(w)}" for name in self.builds for w in self.version_warnings(name)]

    def version_warnings(self, build: str) -> list[str]:
        exp, version = self.expected.get(build), self.version_of(build)
        if exp is None or not version or not exp.client_version:
            return []
        if version == exp.client_version:
            return []
        return [f"{self.expected_paths[build]} was recorded from {exp.client_version!r}; "
                f"this run's {build} is {version!r}"]

    # -- clients ------------------------------------------------------------
    def start_adapters(self) -> None:
        """Start every build's adapter at once, in the background: the controller while xdist
        starts its workers (each hello names its build in the banner), a worker while it
        collects. The adapters stay up for the cases this process runs; await_adapters waits."""
        def start(name):
            proc = self._process(name)
            try:
                self.hellos[name] = proc.start()
            except AdapterError as exc:
                return str(exc)
            self.clients[name] = proc
            return None
        self._starting = ThreadPoolExecutor(max_workers=len(self.builds))
        self._starts = [self._starting.submit(start, name) for name in self.builds]

    def await_adapters(self) -> list[str]:
        """Wait for start_adapters; why each adapter that could not start did not."""
        if self._starting is None:
            return []
        self._starting.shutdown(wait=True)
        self._starting = None
        return [f.result() for f in self._starts if f.result()]

    def _process(self, name: str) -> ClientProcess:
        build = self.builds[name]
        return ClientProcess(name, list(build.argv), cwd=str(self.config.rootpath),
                             env=build.environ() if build.env else None)

    def hello_of(self, name: str) -> dict | None:
        proc = self.clients.get(name)
        return (proc.hello if proc else None) or self.hellos.get(name)

    def start_client(self, item) -> None:
        """Before each case: the build's adapter is up, or (re)started. One that cannot start
        stops the run, since every later case of that build would wait on it in vain."""
        self.await_adapters()   # one that failed in the background is started (and reported) here
        client = self.clients.get(item.build)
        if client is None:
            client = self.clients[item.build] = self._process(item.build)
        if client.alive():
            return
        try:
            client.start()
            return
        except AdapterError as exc:
            item.session.shouldstop = str(exc)
        pytest.fail(item.session.shouldstop, pytrace=False)

    def run(self, case, build: str) -> CaseResult:
        if self.servers is None:
            self.servers = ServerSet()
        return run_case(case, self.servers, self.clients[build], build)

    def close(self):
        self.await_adapters()
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        if self.servers is not None:
            self.servers.close()


def _builds(config) -> dict[str, registry.Build]:
    path = config.getoption("clients_file")
    names = list(config.getoption("client"))
    try:
        if config.getoption("matrix"):
            names += [b.name for b in registry.matrix(path)]
        names = list(dict.fromkeys(names)) or [registry.DEFAULT_CLIENT]
        return {n: registry.find(n, path) for n in names}
    except registry.UnknownClient as exc:
        raise pytest.UsageError(str(exc)) from None


def _check_reports_dir(path: str | None) -> None:
    """Find an unusable --reports folder before the first case, not after the last. A run
    writes a new folder beside it and swaps it in: its parent must take a new folder."""
    if not path:
        return
    target = os.path.abspath(path)
    if os.path.exists(target) and not os.path.isdir(target):
        raise pytest.UsageError(f"--reports {path}: exists and is not a folder")
    existing = os.path.dirname(target)   # the parent, or its nearest existing ancestor
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise pytest.UsageError(f"--reports {path}: {existing} is not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".h2cs-check-", dir=existing))
    except OSError as exc:
        raise pytest.UsageError(f"--reports {path}: cannot create a folder in {existing} "
                                f"({exc.strerror}); pick another folder") from None


def _expectations(path: str | None, builds: dict) -> tuple[dict, dict]:
    """Per build: its known verdicts (or None: judge by level) and the file they came from."""
    if not path:
        return {}, {}
    if not os.path.isdir(path):
        if len(builds) > 1:
            raise pytest.UsageError(f"--expectations {path}: a file holds one build's verdicts; for "
                                    f"{len(builds)} builds pass the folder holding BUILD.json per build")
        files = {next(iter(builds)): path}
    else:
        files = {n: os.path.join(path, f"{n}.json") for n in builds
                 if os.path.exists(os.path.join(path, f"{n}.json"))}
    try:
        return {n: expfile.load(p) for n, p in files.items()}, files
    except expfile.ExpectationsError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_runtest_logreport(report):
    if not _CONFIG:
        return
    h2 = _CONFIG[0]._h2cs
    if hasattr(_CONFIG[0], "workerinput"):
        return   # a worker: its controller gathers the verdicts
    judged = False
    for name, value in getattr(report, "user_properties", []):
        if name == PROP:
            value = json.loads(value)
            h2.results[(value["client"], value["id"])] = value
            judged = True
        elif name == PROP + "-client" and value[1]:
            h2.hellos[value[0]] = value[1]
    if report.failed and not judged and _is_case_path(_CONFIG[0], report.nodeid):
        # no verdict: the adapter could not start, a worker crashed, ...
        h2.problems.append({"where": report.nodeid, "message": str(report.longrepr).strip()})


def pytest_collection_finish(session):
    if not hasattr(session.config, "workerinput") and session.items:
        session.config._h2cs.planned = sum(isinstance(i, CaseItem) for i in session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    config = node.config
    config._h2cs.planned = sum(_is_case_path(config, i) for i in ids)


_CONFIG = []  # the running config, for hooks that are not handed one


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session):
    """A wrapper: the adapters start first, and the banner comes once every other plugin
    (xdist, starting its workers) has had its turn."""
    _CONFIG[:] = [session.config]
    # A signal's KeyboardInterrupt can be swallowed (raised inside a finalizer): stop anyway.
    tls.ON_INTERRUPT.append(lambda name: setattr(session, "shouldstop", f"interrupted by {name}"))
    h2 = session.config._h2cs
    worker = hasattr(session.config, "workerinput")
    if worker or not session.config.getoption("collectonly"):
        h2.start_adapters()
    result = yield
    if worker or session.config.getoption("collectonly"):
        return result   # a worker's failed start is reported by the case that needs it
    errors = h2.await_adapters()
    if errors:   # stops the run in pytest_runtestloop, before any case
        h2.close()
        h2.start_error = "\n".join(errors)
        return result
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in h2.banner() if terminal else []:
        terminal.write_line(line)
    return result


def pytest_runtest_setup(item):
    if isinstance(item, CaseItem):
        item.config._h2cs.start_client(item)


def pytest_sessionfinish(session, exitstatus):
    h2 = session.config._h2cs
    h2.close()
    if hasattr(session.config, "workerinput") or not (h2.results or h2.problems):
        return  # workers report through the controller; never overwrite reports with nothing
    h2.doc = writers.results_document(writers.RunRecord(
        results=list(h2.results.values()), builds=_build_records(h2), strict=h2.strict,
        started=h2.started, problems=h2.problems, planned=h2.planned))
    reports_dir = session.config.getoption("reports")
    if not reports_dir:
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        session.config._h2cs_note = f"run interrupted: the reports in {reports_dir} were left untouched"
        return
    writers.write_all(reports_dir, h2.doc)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    # Everything left lives until the process exits, where the interpreter's last collection
    # would walk every verdict of the run once more (a third of a second for a catalog run).
    gc.freeze()


def _build_records(h2: Session) -> dict:
    records = {}
    for name, build in h2.builds.items():
        results = h2.results_of(name)
        exp = h2.expected.get(name)
        records[name] = {
            "description": build.description, "version": h2.version_of(name),
            "hello": h2.hellos.get(name), "expectations": h2.expected_paths.get(name),
            "known": dict(exp) if exp is not None else None,
            "differences": expfile.differences(exp, results) if exp is not None else None}
    return records


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    h2 = config._h2cs
    note = getattr(config, "_h2cs_note", None)
    if note:
        terminalreporter.write_line(note)
    if hasattr(config, "workerinput") or h2.doc is None:
        return
    terminalreporter.write_sep("=", "h2clientspec verdicts by section")
    terminalreporter.write_line(writers.summary_txt(h2.doc))
    for name in h2.builds:
        for w in h2.version_warnings(name):
            terminalreporter.write_line(f"warning: {escaped(w)}")
        if h2.expected.get(name) is None and config.getoption("expectations") and h2.results_of(name):
            terminalreporter.write_line(
                f"no expectations file for {name} yet: judged by level. Record one with:\n"
                f"  .venv/bin/python -m conformance expectations {config.getoption('reports') or 'RESULTS'}"
                f"/results.json --build {name} -o expectations/{name}.json")
