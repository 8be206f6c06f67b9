"""The curl_cffi adapter speaks docs/clients.md: hello, a failing job, a bad job, the protocol 2
features it has, and refuses push (its libcurl always sends ENABLE_PUSH=0).
Skipped where the curl-cffi build is not prepared (bash scripts/build-venv.sh curl-cffi ...)."""
from __future__ import annotations

import os

import pytest

from conformance.clients.registry import BUILDS_DIR
from tests.adapter_driver import CAPABILITIES, PROTOCOL_2, AdapterProcess, closed_port, \
    connect_failures, https_job
from tests.adapter_features import check_http1_trailers, features, unsupported_job

PYTHON = os.path.join(BUILDS_DIR, "curl-cffi", "venv", "bin", "python")

pytestmark = pytest.mark.skipif(not os.path.exists(PYTHON),
                                reason="curl-cffi build not prepared (builds/curl-cffi/venv)")


def converse(tmp_path, *messages: dict) -> list[dict]:
    """Send the messages, close stdin, and return every line the adapter wrote."""
    with AdapterProcess(PYTHON, "curl_cffi_adapter", tmp_path / "stderr.txt") as a:
        for message in messages:
            a.send(message)
        lines = [a.read() for _ in range(len(messages) + 1)]   # the hello, then one each
        status, rest = a.hang_up()
        assert status == 0, a.stderr_path.read_text()
        assert rest == b""
    return lines


def test_hello_names_curl_cffi_and_its_boringssl_libcurl(tmp_path):
    [hello] = converse(tmp_path)
    assert hello["type"] == "hello" and hello["protocol"] == 2
    client = hello["client"]
    assert client["name"] == "curl_cffi"
    assert client["version"].startswith("curl_cffi/") and " libcurl/" in client["version"]
    assert client["tls"] == "BoringSSL" and "BoringSSL" in client["version"]
    assert f"libcurl/{client['libcurl']} " in client["version"]
    assert f"nghttp2/{client['nghttp2']}" in client["version"]
    assert "HTTP2" in client["features"] and "SSL" in client["features"]
    assert set(hello["capabilities"]) == CAPABILITIES | PROTOCOL_2 - {"push"}


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_closed_port_is_a_connect_failure(tmp_path, mode):
    _, result = converse(tmp_path, https_job("closed", closed_port(), tmp_path, n=2, mode=mode))
    for outcome in connect_failures(result, "closed", 2):
        assert outcome["error"]["name"] == "CURLE_COULDNT_CONNECT"
        assert outcome["error"]["message"]
    assert "== request 1:" in result["trace"]


def test_bad_job_gets_an_error_message_and_the_adapter_keeps_serving(tmp_path):
    _, bad, after = converse(tmp_path, https_job("bad", 1, tmp_path, mode="sideways"),
                             https_job("after", closed_port(), tmp_path))
    assert bad["type"] == "error" and bad["id"] == "bad" and "mode" in bad["message"]
    assert after["type"] == "result" and after["outcomes"][0]["error"]["class"] == "connect"


@pytest.fixture
def adapter(tmp_path):
    with AdapterProcess(PYTHON, "curl_cffi_adapter", tmp_path / "stderr.txt") as a:
        assert a.read()["type"] == "hello"
        yield a


@pytest.mark.parametrize("check", features(PROTOCOL_2 - {"push"}))
def test_protocol_2_feature(adapter, servers, check):
    check(adapter.run, servers)


def test_trailers_reach_the_wire_after_a_chunked_http1_upload(adapter):
    check_http1_trailers(adapter.run)


def test_push_is_unsupported(adapter):
    reply = adapter.run(unsupported_job("push", f"https://127.0.0.1:{closed_port()}/"))
    assert reply["type"] == "error" and reply["unsupported"] == ["push"]
