"""The reference pycurl adapter speaks docs/clients.md: hello, errors, a failing job, EOF."""
from __future__ import annotations

import sys

import pytest

from tests.adapter_driver import CAPABILITIES, AdapterProcess, closed_port, connect_failures, \
    https_job

pycurl = pytest.importorskip("pycurl")


@pytest.fixture
def adapter(tmp_path):
    with AdapterProcess(sys.executable, "pycurl_adapter", tmp_path / "stderr.txt") as a:
        yield a


def test_hello_names_the_exact_runtime_client(adapter):
    hello = adapter.read()
    info = pycurl.version_info()
    assert hello["type"] == "hello" and hello["protocol"] == 1
    client = hello["client"]
    assert client["name"] == "pycurl"
    assert client["version"] == pycurl.version
    assert client["libcurl"] == info[1]
    assert client["tls"] == info[5]
    caps = set(hello["capabilities"])
    assert caps <= CAPABILITIES and {"http1.1", "trace"} <= caps
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
