"""The optional request fields of docs/clients.md: how a case's Req writes them, how adapters
check them, and the curl options they become."""
from __future__ import annotations

import pytest

from conformance.case import Job, Req
from conformance.clients.curl_multi import CURLPROXY_HTTPS, CURLPROXY_HTTPS2, curl_proxy_type
from conformance.clients.jobs import curl_connect_to, optional_problem

BASE = "https://127.0.0.1:4433"


@pytest.mark.parametrize("req,url,extra", [
    (Req(""), "https://127.0.0.1:4433", {}),
    (Req(userinfo="user:pw"), "https://user:pw@127.0.0.1:4433/", {}),
    (Req(host="localhost"), "https://localhost:4433/", {}),
    (Req(method="OPTIONS", target="*"), "https://127.0.0.1:4433/", {"target": "*"}),
    (Req(default_port=True), "https://127.0.0.1/", {"connect_to": "127.0.0.1:4433"}),
    (Req("/t", via_proxy=True), "http://127.0.0.1:4433/t", {"proxy": BASE}),
    (Req("/chat", method="CONNECT", protocol="websocket"), "https://127.0.0.1:4433/chat",
     {"protocol": "websocket"}),
])
def test_req_writes_the_url_and_only_the_fields_it_uses(req, url, extra):
    out = req.to_json(BASE)
    assert out["url"] == url
    assert {k: out[k] for k in ("target", "connect_to", "proxy", "protocol") if k in out} == extra


@pytest.mark.parametrize("req,capability", [
    (Req(method="OPTIONS", target="*"), "asterisk-form"), (Req(default_port=True), "connect-to"),
    (Req(via_proxy=True), "https-proxy"), (Req(method="CONNECT", protocol="websocket"), "extended-connect"),
])
def test_a_job_needs_the_capability_of_each_optional_field(req, capability):
    assert Job((req,)).needs == {capability}
    assert Job((Req(host="localhost", userinfo="u:p"),)).needs == set()


@pytest.mark.parametrize("field,value", [("target", "/"), ("connect_to", "nowhere"),
                                         ("proxy", "http://127.0.0.1:1"), ("protocol", "web socket")])
def test_a_malformed_optional_field_is_named(field, value):
    assert field in optional_problem("requests[0]", {field: value})


def test_curl_options():
    assert curl_connect_to({"url": "https://127.0.0.1/", "connect_to": "127.0.0.1:4433"}) == \
        "127.0.0.1:443:127.0.0.1:4433"
    assert curl_connect_to({"url": "https://[::1]:8443/x", "connect_to": "[::1]:4433"}) == \
        "[::1]:8443:[::1]:4433"
    assert curl_proxy_type(0x080100) == CURLPROXY_HTTPS2 and curl_proxy_type(0x075801) == CURLPROXY_HTTPS
