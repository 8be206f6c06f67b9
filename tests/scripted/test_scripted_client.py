"""Smoke tests of the scripted client against a tiny h2 server defined here."""
from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import threading

import pytest
import trustme
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, RequestReceived, StreamEnded

from servers import frames as F
from servers.scenario import Script, reply
from tests.adapter_driver import PROTOCOL_2
from tests.adapter_features import check_h2_trailers, exercise, features
from tests.scripted.client import BEHAVIOURS, Behaviour, hello, run_job

BODY = b"scripted client smoke test\n" * 10
BIG = bytes(range(256)) * 800          # 204800 octets: needs WINDOW_UPDATE


class TinyServer:
    """h2 over TLS (ALPN h2) or cleartext on 127.0.0.1. Paths:
    /ok BODY; /big BIG; /upper a response with an uppercase field name;
    /echo the sha256 of the request body."""

    def __init__(self, ca: trustme.CA, tls: bool = True):
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ca.issue_cert("127.0.0.1").configure_cert(self.ctx)
            self.ctx.set_alpn_protocols(["h2"])
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[list] = []
        self.frames: list[tuple[int, int, bytes]] = []   # (type, stream, payload) the client sent
        self.lock = threading.Lock()
        self.open = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"{'https' if self.ctx else 'http'}://127.0.0.1:{self.port}{path}"

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.open += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        try:
            if self.ctx:
                sock = self.ctx.wrap_socket(sock, server_side=True)
            conn = H2Connection(H2Configuration(client_side=False, validate_outbound_headers=False,
                                                normalize_outbound_headers=False))
            conn.initiate_connection()
            sock.sendall(conn.data_to_send())
            raw = bytearray()
            bodies: dict[int, bytearray] = {}
            paths: dict[int, str] = {}
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                raw += data
                self._record(raw)
                for ev in conn.receive_data(data):
                    if isinstance(ev, RequestReceived):
                        headers = [(bytes(n).decode(), bytes(v).decode()) for n, v in ev.headers]
                        with self.lock:
                            self.requests.append(headers)
                        paths[ev.stream_id] = dict(headers)[":path"]
                        bodies[ev.stream_id] = bytearray()
                    elif isinstance(ev, DataReceived):
                        bodies[ev.stream_id] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, StreamEnded):
                        self._respond(conn, ev.stream_id, paths[ev.stream_id], bytes(bodies[ev.stream_id]))
                    sock.sendall(conn.data_to_send())
                self._flush_pending(conn)
                sock.sendall(conn.data_to_send())
        except (OSError, ssl.SSLError):
            pass
        except Exception:  # an h2 protocol error on the server side ends the connection
            pass
        finally:
            sock.close()
            with self.lock:
                self.open -= 1

    def _record(self, raw: bytearray):
        if raw.startswith(b"PRI * HTTP/2.0"):
            del raw[:24]
        while len(raw) >= 9 and len(raw) >= 9 + int.from_bytes(raw[:3], "big"):
            n = int.from_bytes(raw[:3], "big")
            self.frames.append((raw[3], int.from_bytes(raw[5:9], "big"), bytes(raw[9:9 + n])))
            del raw[:9 + n]

    def sent(self, ftype: int) -> list[tuple[int, bytes]]:
        """Frames of one type the client sent, once every connection has ended."""
        for _ in range(200):
            if not self.open:
                break
            threading.Event().wait(0.01)
        return [(sid, p) for t, sid, p in self.frames if t == ftype]

    pending: dict = {}

    def _respond(self, conn, sid, path, body):
        if path == "/upper":
            conn.send_headers(sid, [(":status", "200"), ("X-Upper", "1")])
            conn.send_data(sid, BODY, end_stream=True)
            return
        payload = BIG if path == "/big" else hashlib.sha256(body).hexdigest().encode() if path == "/echo" else BODY
        conn.send_headers(sid, [(":status", "200"), ("content-length", str(len(payload)))])
        self.pending[(id(conn), sid)] = (conn, payload)
        self._flush_pending(conn)

    def _flush_pending(self, conn):
        for key, (c, payload) in list(self.pending.items()):
            if c is not conn:
                continue
            sid = key[1]
            n = min(len(payload), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            while n > 0:
                conn.send_data(sid, payload[:n], end_stream=n == len(payload))
                payload = payload[n:]
                n = min(len(payload), conn.local_flow_control_window(sid), conn.max_outbound_frame_size) \
                    if payload else 0
            if payload:
                self.pending[key] = (c, payload)
            else:
                del self.pending[key]

    def close(self):
        self.listener.close()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory):
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def server(ca):
    s = TinyServer(ca)
    yield s
    s.close()


def job(ca_file, *urls, mode="sequential", version="h2", body=None, method="GET", headers=()):
    return {"type": "run", "id": "smoke", "timeout_ms": 3000, "ca_file": ca_file, "mode": mode,
            "connection": "reuse", "tls_session_cache": "shared",
            "requests": [{"method": method, "url": u, "headers": [list(h) for h in headers],
                          "body_b64": base64.b64encode(body).decode() if body else None,
                          "http_version": version} for u in urls]}


def test_hello_and_profiles():
    assert hello()["client"] == {"name": "scripted", "version": "scripted/1"}
    assert BEHAVIOURS["good"] == Behaviour()
    assert not BEHAVIOURS["naive"].validate


def test_get_succeeds_with_the_right_body(server, ca_file):
    res = run_job(job(ca_file, server.url("/ok")))
    assert res["type"] == "result" and res["id"] == "smoke"
    (o,) = res["outcomes"]
    assert o["ok"], o["error"]
    assert o["status"] == 200 and o["http_version"] == "2"
    assert o["body_len"] == len(BODY) and o["body_sha256"] == hashlib.sha256(BODY).hexdigest()
    assert ["content-length", str(len(BODY))] in o["headers"]
    assert "SETTINGS" in o["trace"]


def test_request_fields(server, ca_file):
    run_job(job(ca_file, server.url("/ok"), headers=[("Connection", "close"), ("TE", "gzip"),
                                                      ("X-Case", "1"), ("Host", "example.test")]))
    fields = server.requests[0]
    names = [n for n, _ in fields]
    assert names[:4] == [":method", ":scheme", ":authority", ":path"]
    assert dict(fields)[":authority"] == "example.test"
    assert "connection" not in names and "te" not in names and "host" not in names
    assert ("x-case", "1") in fields


def test_uppercase_field_name_is_a_stream_error(server, ca_file):
    (o,) = run_job(job(ca_file, server.url("/upper")))["outcomes"]
    assert not o["ok"] and o["error"]["class"] == "stream"
    assert "uppercase" in o["error"]["message"]
    assert server.sent(3) == [(1, (1).to_bytes(4, "big"))]   # RST_STREAM(PROTOCOL_ERROR) on stream 1


def test_naive_client_accepts_uppercase(server, ca_file):
    (o,) = run_job(job(ca_file, server.url("/upper")), BEHAVIOURS["naive"])["outcomes"]
    assert o["ok"] and o["status"] == 200 and o["body_len"] == len(BODY)
    assert server.sent(3) == []


def test_parallel_requests_share_one_connection(server, ca_file):
    res = run_job(job(ca_file, *[server.url("/ok")] * 3, mode="parallel"))
    assert all(o["ok"] for o in res["outcomes"]), [o["error"] for o in res["outcomes"]]
    assert server.connections == 1


def test_sequential_reuse_and_no_reuse(server, ca_file):
    assert all(o["ok"] for o in run_job(job(ca_file, *[server.url("/ok")] * 2))["outcomes"])
    assert server.connections == 1
    goaways = server.sent(7)
    assert [p[4:8] for _, p in goaways] == [bytes(4)]     # a polite GOAWAY(NO_ERROR) at the end
    assert all(o["ok"] for o in run_job(job(ca_file, *[server.url("/ok")] * 2), BEHAVIOURS["no-reuse"])["outcomes"])
    assert server.connections == 3


def test_large_body_and_upload(server, ca_file):
    up = b"u" * 200_000
    res = run_job(job(ca_file, server.url("/big"), server.url("/echo"), body=None))
    assert res["outcomes"][0]["ok"] and res["outcomes"][0]["body_sha256"] == hashlib.sha256(BIG).hexdigest()
    (o,) = run_job(job(ca_file, server.url("/echo"), body=up, method="POST"))["outcomes"]
    assert o["ok"], o["error"]
    assert o["body_sha256"] == hashlib.sha256(hashlib.sha256(up).hexdigest().encode()).hexdigest()


def test_h2c_prior_knowledge(ca):
    s = TinyServer(ca, tls=False)
    try:
        (o,) = run_job(job("", s.url("/ok"), version="h2-prior-knowledge"))["outcomes"]
        assert o["ok"] and o["body_len"] == len(BODY)
    finally:
        s.close()


def test_connection_refused_and_unknown_field():
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    (o,) = run_job(job("", f"http://127.0.0.1:{port}/", version="h2-prior-knowledge"))["outcomes"]
    assert o["error"]["class"] == "connect"
    bad = job("", "http://127.0.0.1:1/")
    bad["mode"] = "sideways"
    assert run_job(bad)["type"] == "error"


def test_profiles_are_distinct_and_good_is_the_default():
    assert len(set(BEHAVIOURS.values())) == len(BEHAVIOURS)   # no two names for one behaviour
    assert [n for n, b in BEHAVIOURS.items() if b == Behaviour()] == ["good"]


def test_request_field_misbehaviours():
    from tests.scripted import checks
    fields = checks.request_fields("GET", "https://127.0.0.1:1/p?q", [("x-a", "1")], b"")
    assert [n for n, _ in checks.duplicate_path(fields)] == [":method", ":scheme", ":authority", ":path",
                                                             ":path", "x-a"]
    assert checks.host_not_authority(fields) == [(":method", "GET"), (":scheme", "https"), (":path", "/p?q"),
                                                 ("host", "127.0.0.1:1"), ("x-a", "1")]


def test_adapter_process(server, ca_file):
    """python -m tests.scripted PROFILE speaks docs/clients.md on stdin/stdout."""
    import json
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "tests.scripted", "good"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [json.dumps(job(ca_file, server.url("/ok"))), "not json", json.dumps({"type": "run", "id": "x"})]
    out, err = proc.communicate("\n".join(lines) + "\n", timeout=30)
    assert proc.returncode == 0, err
    hello_msg, result, bad_line, bad_job = [json.loads(line) for line in out.splitlines()]
    assert hello_msg == hello()
    assert result["type"] == "result" and result["id"] == "smoke" and result["outcomes"][0]["ok"]
    assert bad_line["type"] == "error" and bad_job == {**bad_job, "type": "error", "id": "x"}


def test_adapter_refuses_an_unknown_profile():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "tests.scripted", "no-such-profile"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and not done.stdout and "profiles:" in done.stderr


def test_application_content_length_gives_way_to_the_body():
    from tests.scripted import checks
    given = [("x-a", "1"), ("Content-Length", "5"), ("x-b", "2"), ("content-length", "7")]
    assert checks.true_content_length(given, b"abc") == [("x-a", "1"), ("content-length", "3"), ("x-b", "2")]
    assert checks.true_content_length([("content-length", "3")], b"abc") == [("content-length", "3")]
    assert checks.true_content_length([("x-a", "1")], b"abc") == [("x-a", "1")]


def test_hpack_decoder_knobs():
    from hpack import Encoder
    from hpack.exceptions import HPACKDecodingError
    from tests.scripted.connection import FieldDecoder
    enc = Encoder()
    first, second = (enc.encode([(":status", "200"), ("x-a", "hello")]) for _ in range(2))   # 2nd: index 62
    raw = Encoder().encode([("x-b", "v")], huffman=False)
    good = FieldDecoder(BEHAVIOURS["good"])
    assert good.decode(first, raw=True) == good.decode(second, raw=True) == [(b":status", b"200"), (b"x-a", b"hello")]
    with pytest.raises(HPACKDecodingError):
        empty = FieldDecoder(BEHAVIOURS["hpack-no-dynamic-table"])
        empty.decode(first, raw=True)
        empty.decode(second, raw=True)
    with pytest.raises(HPACKDecodingError):
        FieldDecoder(BEHAVIOURS["no-huffman"]).decode(first, raw=True)
    assert FieldDecoder(BEHAVIOURS["no-huffman"]).decode(raw, raw=True) == [(b"x-b", b"v")]
    every = FieldDecoder(BEHAVIOURS["hpack-index-all"])
    every.decode(raw, raw=True)                   # without indexing, yet it enters the table
    assert every.header_table.get_by_index(62) == (b"x-b", b"v")


# -- protocol 2 (docs/clients.md): the features the controls rely on, against the mock servers --
def run_good(message: dict) -> dict:
    return run_job(message, BEHAVIOURS["good"])


@pytest.mark.parametrize("check", features(PROTOCOL_2))
def test_protocol_2_feature(servers, check):
    assert PROTOCOL_2 <= set(hello()["capabilities"]) and hello()["protocol"] == 2
    check(run_good, servers)


def test_request_trailers_end_the_stream(servers):
    check_h2_trailers(run_good, servers)


def test_response_trailers_are_reported_apart_from_the_headers(servers):
    result, _, _ = exercise(run_good, servers, Script(respond=reply(trailers=[("x-t", "v")])))
    outcome = result["outcomes"][0]
    assert outcome["trailers"] == [["x-t", "v"]] and ["x-t", "v"] not in outcome["headers"]


def promise_of(path: str, method: str = "GET", stream_offset: int = 1):
    """A scenario promising `path` with `method` on each request's stream, then answering it."""
    def respond(conn, req):
        promised = [(":method", method), (":scheme", "https"),
                    (":authority", req.header(":authority")), (":path", path)]
        conn.send(F.push_promise(req.stream, req.stream + stream_offset, conn.block(promised)))
        reply()(conn, req)
    return Script(respond=respond)


def test_an_unsafe_promised_request_is_a_stream_error_on_the_promised_stream(servers):
    result, obs, _ = exercise(run_good, servers, promise_of("/x", method="POST"), push="accept")
    assert result["outcomes"][0]["ok"] is True and result["pushed"] == []
    assert [(f.stream, f.error_code) for f in obs.frames("RST_STREAM")] == [(2, "PROTOCOL_ERROR")]


def test_an_odd_promised_stream_is_a_connection_error(servers):
    result, obs, _ = exercise(run_good, servers, promise_of("/x", stream_offset=2), push="refuse")
    assert result["outcomes"][0]["error"]["class"] == "http2"
    assert [f.error_code for f in obs.frames("GOAWAY")] == ["PROTOCOL_ERROR"]


def test_push_stays_disabled_without_push_in_the_job(servers):
    result, obs, _ = exercise(run_good, servers, promise_of("/x"))
    assert "pushed" not in result and result["outcomes"][0]["error"]["class"] == "http2"
    assert dict(obs.frames("SETTINGS")[0].settings)["ENABLE_PUSH"] == 0
