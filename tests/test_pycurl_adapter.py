"""The reference pycurl adapter speaks docs/clients.md: hello, errors, a failing job, EOF, and
every protocol 2 feature against a mock server."""
from __future__ import annotations

import sys

import pytest

from tests.adapter_driver import CAPABILITIES, PROTOCOL_2, AdapterProcess, closed_port, \
    connect_failures, https_job
from tests.adapter_features import check_http1_trailers, features

pycurl = pytest.importorskip("pycurl")


@pytest.fixture
def adapter(tmp_path):
    with AdapterProcess(sys.executable, "pycurl_adapter", tmp_path / "stderr.txt") as a:
        yield a


def test_hello_names_the_exact_runtime_client(adapter):
    hello = adapter.read()
    info = pycurl.version_info()
    assert hello["type"] == "hello" and hello["protocol"] == 2
    client = hello["client"]
    assert client["name"] == "pycurl"
    assert client["version"] == pycurl.version
    assert client["libcurl"] == info[1]
    assert client["tls"] == info[5]
    caps = set(hello["capabilities"])
    assert caps <= CAPABILITIES | PROTOCOL_2 and {"http1.1", "trace"} | PROTOCOL_2 <= caps
    has_h2 = bool(info[4] & pycurl.VERSION_HTTP2)
    assert ("HTTP2" in client["features"]) == has_h2 == ("h2c" in caps)
    if has_h2:
        assert f"nghttp2/{client['nghttp2']}" in pycurl.version


def test_malformed_line_is_answered_and_the_adapter_keeps_serving(adapter, tmp_path):
    adapter.read()
    adapter.send("{this is not json")
    reply = adapter.read()
    assert reply["type"] == "error" and reply["id"] is None and reply["message"]
    reply = adapter.run(https_job("bad", 1, tmp_path, mode="sideways"))
    assert reply["type"] == "error" and reply["id"] == "bad" and "mode" in reply["message"]
    assert adapter.run(https_job("after", closed_port(), tmp_path))["type"] == "result"


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_closed_port_is_a_connect_error(adapter, tmp_path, mode):
    adapter.read()
    result = adapter.run(https_job("closed", closed_port(), tmp_path, n=2, mode=mode))
    for outcome in connect_failures(result, "closed", 2):
        assert outcome["error"]["name"] == "CURLE_COULDNT_CONNECT"
        assert outcome["error"]["code"] == pycurl.E_COULDNT_CONNECT
    assert isinstance(result["trace"], str)


def test_eof_exits_with_status_0(adapter):
    adapter.read()
    assert adapter.hang_up() == (0, b"")


@pytest.mark.parametrize("bad,complaint", [
    ({"phases": [{"mode": "sequential", "count": 1}]}, "either mode or phases"),
    ({"mode": None, "phases": [{"mode": "parallel", "count": 3}]}, "add up to 3, but there are 2"),
    ({"push": "maybe"}, "push must be one of"),
])
def test_bad_protocol_2_jobs_are_refused(adapter, tmp_path, bad, complaint):
    adapter.read()
    message = https_job("bad", closed_port(), tmp_path, n=2, **bad)
    message = {k: v for k, v in message.items() if v is not None}
    reply = adapter.run(message)
    assert reply["type"] == "error" and complaint in reply["message"], reply


@pytest.mark.parametrize("extra,complaint", [
    ({"pause_after": 10}, "exactly one of pause_ms and resume_after"),
    ({"pause_after": 10, "resume_after": 0}, "resume_after must be the index of another request"),
    ({"body_b64": "", "body_chunks": [{"data_b64": "", "delay_ms": 0}]}, "exclude each other"),
    ({"body_chunks": [{"data_b64": "", "delay_ms": -1}]}, "body_chunks must be"),
])
def test_bad_protocol_2_requests_are_refused(adapter, tmp_path, extra, complaint):
    adapter.read()
    message = https_job("bad", closed_port(), tmp_path)
    message["requests"][0].update(extra)
    reply = adapter.run(message)
    assert reply["type"] == "error" and complaint in reply["message"], reply


@pytest.mark.parametrize("check", features(PROTOCOL_2))
def test_protocol_2_feature(adapter, servers, check):
    adapter.read()
    check(adapter.run, servers)


def test_trailers_reach_the_wire_after_a_chunked_http1_upload(adapter):
    adapter.read()
    check_http1_trailers(adapter.run)
