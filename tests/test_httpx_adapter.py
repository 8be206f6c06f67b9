"""The httpx adapter speaks docs/clients.md: hello, refused jobs, connect failures, an h2 exchange,
the protocol 2 features it has; trailers and push are unsupported.

It runs in its build's venv (bash scripts/build-venv.sh httpx-h2 'httpx[http2]==0.28.*');
without that venv these tests are skipped.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conformance.clients.registry import BUILDS_DIR
from servers.scenario import Script
from tests.adapter_driver import CAPABILITIES, PROTOCOL_2, AdapterProcess, closed_port, \
    connect_failures, job
from tests.adapter_features import features, unsupported_job

PYTHON = Path(BUILDS_DIR) / "httpx-h2" / "venv" / "bin" / "python"

pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason=f"no httpx-h2 build at {PYTHON}")


@pytest.fixture
def adapter(tmp_path):
    with AdapterProcess(PYTHON, "httpx_adapter", tmp_path / "stderr.txt") as a:
        assert a.read()["type"] == "hello"
        yield a


def runtime_version() -> str:
    code = ("import ssl, httpx, httpcore, h2, hpack, hyperframe; print(' '.join("
            "f'{m.__name__}/{m.__version__}' for m in (httpx, httpcore, h2, hpack, hyperframe)),"
            " 'OpenSSL/' + ssl.OPENSSL_VERSION.split()[1])")
    return subprocess.run([str(PYTHON), "-c", code], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_hello_names_the_exact_runtime_client(tmp_path):
    with AdapterProcess(PYTHON, "httpx_adapter", tmp_path / "stderr.txt") as a:
        hello = a.read()
    assert hello["type"] == "hello" and hello["protocol"] == 2
    client = hello["client"]
    assert client["name"] == "httpx"
    assert client["version"] == runtime_version()
    assert client["tls"] == client["version"].split()[-1]
    assert client["libcurl"] is None and client["nghttp2"] is None
    # httpx has no session cache to share, no connect-to, and tunnels only to https:// targets
    assert set(hello["capabilities"]) == (CAPABILITIES - {"tls-session-cache", "connect-to", "https-proxy"}
                                          | PROTOCOL_2 - {"trailers", "push", "early-data"})


def test_bad_job_is_refused_and_the_adapter_keeps_serving(adapter):
    adapter.send("{this is not json")
    reply = adapter.read()
    assert reply["type"] == "error" and reply["id"] is None and reply["message"]
    url = f"http://127.0.0.1:{closed_port()}/"
    reply = adapter.run(job("bad", url, None, mode="sideways"))
    assert reply["type"] == "error" and reply["id"] == "bad" and "mode" in reply["message"]
    reply = adapter.run(job("bad-version", url, None, version="h3"))
    assert reply["type"] == "error" and "http_version" in reply["message"]
    assert adapter.run(job("after", url, None, version="h2-prior-knowledge"))["type"] == "result"


@pytest.mark.parametrize("scheme,version", [("https", "h2"), ("http", "h2-prior-knowledge"),
                                            ("https", "http1.1")])
@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_closed_port_is_a_connect_error(adapter, servers, scheme, version, mode):
    url = f"{scheme}://127.0.0.1:{closed_port()}/"
    result = adapter.run(job("closed", url, servers.ca_file, n=2, version=version, mode=mode))
    for outcome in connect_failures(result, "closed", 2):
        assert outcome["http_version"] is None
        assert outcome["error"] == {**outcome["error"], "code": 0, "name": "httpx.ConnectError",
                                    "class": "connect"}
        assert "connect_tcp.failed" in outcome["trace"]
    assert isinstance(result["trace"], str)


def test_unloadable_ca_file_is_a_tls_error(adapter, tmp_path):
    ca = tmp_path / "empty.pem"
    ca.write_text("")
    result = adapter.run(job("ca", f"https://127.0.0.1:{closed_port()}/", str(ca)))
    assert result["outcomes"][0]["error"]["class"] == "tls"


@pytest.mark.parametrize("secure,version", [(True, "h2"), (False, "h2-prior-knowledge")])
def test_h2_exchange_is_traced_and_closed(adapter, servers, secure, version):
    hosted = servers.host(Script(), secure=secure)
    try:
        result = adapter.run(job("ok", hosted.url("/"), hosted.ca_file, n=2, version=version))
        assert hosted.wait_closed(2.0), "the adapter answered before closing its connection"
    finally:
        observations = hosted.close()
    assert len(observations.connections) == 1   # "reuse": both requests on one connection
    for outcome in result["outcomes"]:
        assert outcome["ok"] is True and outcome["error"] is None
        assert outcome["status"] == 200 and outcome["http_version"] == "2"
        assert outcome["body_len"] > 0 and len(outcome["body_sha256"]) == 64
        assert "h2: Received frame: HeadersFrame" in outcome["trace"]


def test_eof_exits_with_status_0(adapter):
    assert adapter.hang_up() == (0, b"")


@pytest.mark.parametrize("check", features(PROTOCOL_2 - {"trailers", "push", "early-data"}))
def test_protocol_2_feature(adapter, servers, check):
    check(adapter.run, servers)


@pytest.mark.parametrize("capability", ["trailers", "push", "early-data"])
def test_trailers_push_and_early_data_are_unsupported(adapter, capability):
    reply = adapter.run(unsupported_job(capability, f"http://127.0.0.1:{closed_port()}/"))
    assert reply["type"] == "error" and reply["unsupported"] == [capability]
