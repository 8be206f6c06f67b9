"""The runner: a server-side bug is an ERROR of that case, with the traceback as its reason."""
from conformance.case import MUST, Case, Job, Req, get
from conformance.runner import failure_report, run_case
from conformance.verdicts import Succeeds
from conformance.verdicts.verdict import Outcome
from servers.scenario import Script


def explode(conn, req):
    raise RuntimeError("scenario bug on purpose")


BROKEN = Case(id="9113/0/broken-scenario", level=MUST, requirement="r", server="raises",
              scenario=lambda: Script(respond=explode), expect=Succeeds(), request=get(timeout_ms=1000))


def test_server_exception_surfaces_as_error_of_that_case(servers, scripted):
    result = run_case(BROKEN, servers, scripted("good"), "scripted-good")
    assert result.verdict.outcome is Outcome.ERROR
    assert "scenario bug on purpose" in result.verdict.reason
    assert "Script.data_received on connection #0" in result.verdict.reason
    assert "Reason:" in failure_report(result)


def test_unsupported_capability_is_not_run(servers, scripted):
    client = scripted("good")
    client.hello = dict(client.hello, capabilities=["h2"])
    case = Case(id="9113/0/needs-parallel", level=MUST, requirement="r", server="s", scenario=Script,
                expect=Succeeds(), needs=frozenset({"h2", "parallel"}))
    result = run_case(case, servers, client, "scripted-good")
    assert result.verdict.outcome is Outcome.UNSUPPORTED and "parallel" in result.verdict.reason
    assert result.observations.connections == []


def test_protocol_2_job_fields_need_their_capabilities(servers, scripted):
    """A case needs what its job's fields use (docs/clients.md), whatever its `needs` says."""
    client = scripted("good")
    client.hello = dict(client.hello, capabilities=["h2", "parallel"])
    request = Job(tuple(Req(f"/r/{i}", pause_after=0, pause_ms=10) for i in (1, 2)),
                  phases=(("sequential", 1), ("parallel", 1)), push="refuse")
    assert request.needs == {"phases", "pause", "push"}
    case = Case(id="9113/0/needs-phases", level=MUST, requirement="r", server="s", scenario=Script,
                expect=Succeeds(), request=request)
    result = run_case(case, servers, client, "scripted-good")
    assert result.verdict.outcome is Outcome.UNSUPPORTED
    assert "phases" in result.verdict.reason and "push" in result.verdict.reason


def test_resolve_names_the_host_and_maps_it_to_the_server():
    message = Job(resolve="h2cs.test").to_json("x", "https://127.0.0.1:4443", "ca.pem")
    assert message["requests"][0]["url"] == "https://h2cs.test:4443/"
    assert message["resolve"] == ["h2cs.test:4443:127.0.0.1"]
    assert Job(resolve="h2cs.test").needs == {"resolve"}
