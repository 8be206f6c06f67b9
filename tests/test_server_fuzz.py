"""Random and mutated client bytes never make the mock server raise, nor touch other cases."""
from __future__ import annotations

import socket

from hpack import Encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers import frames as F
from servers.scenario import Scenario, Script, reply, seq

VALID = (F.PREFACE + F.settings({F.ENABLE_PUSH: 0}) + F.window_update(0, 1 << 20) +
         F.headers(1, Encoder().encode([(":method", "GET"), (":path", "/"), (":scheme", "http"),
                                        (":authority", "x")]), end_stream=True) +
         F.ping(b"12345678") + F.settings_ack())
# Derandomized and without an example database: the same inputs on every run, no files left.
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
                derandomize=True, database=None)


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int) -> bytes:
    b = bytearray(data)
    for pos, value in edits:
        b[pos % len(b)] = value
    return bytes(b[:max(1, cut % (len(b) + 1))])


def blast(servers, scenario, payload: bytes) -> list[str]:
    """Send `payload` on a cleartext connection, close, and return the server's errors."""
    hosted = servers.host(scenario, secure=False)
    try:
        with socket.create_connection(("127.0.0.1", hosted.port), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
        assert hosted.wait_closed(5)
    finally:
        obs = hosted.close()
    return obs.server_errors


def busy_scenario():
    return Script(respond=seq(lambda c, r: c.send(F.ping(b"abcdefgh")), reply(body=b"x" * 70000)))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_after_the_preface(servers, junk):
    assert blast(servers, Scenario(), F.PREFACE + junk) == []


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 10_000))
def test_mutated_valid_streams(servers, edits, cut):
    assert blast(servers, busy_scenario(), mutate(VALID, edits, cut)) == []


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_instead_of_a_preface(servers, junk):
    assert blast(servers, Scenario(), junk or b"\0") == []


def test_a_broken_case_does_not_touch_its_neighbour(servers):
    """A scenario that raises costs its own case only; a concurrent case is served normally."""
    def explode(conn, req):
        raise RuntimeError("scenario bug")
    broken = servers.host(Script(respond=explode), secure=False)
    healthy = servers.host(Scenario(), secure=False)
    try:
        for hosted in (broken, healthy):
            with socket.create_connection(("127.0.0.1", hosted.port), timeout=5) as s:
                s.sendall(VALID)
                s.shutdown(socket.SHUT_WR)
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
            hosted.wait_closed(5)
            hosted.data = data
    finally:
        b_obs, h_obs = broken.close(), healthy.close()
    assert len(b_obs.server_errors) == 1 and "scenario bug" in b_obs.server_errors[0]
    assert h_obs.server_errors == []
    assert any(f.type == "DATA" for f in h_obs.connections[0].sent)
