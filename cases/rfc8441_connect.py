"""RFC 8441 Bootstrapping WebSockets with HTTP/2: the extended CONNECT method. A client uses the
:protocol pseudo-header only once the server has sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (§3),
and its request then carries :method, :protocol, :scheme, :path and :authority (§4). The stream
is a tunnel: here the server sends a few octets and ends it. Clients without extended CONNECT
(capability `extended-connect`, which the request's `protocol` needs) are UNSUPPORTED."""
from conformance.case import MUST, Case, Job, Req
from conformance.verdicts import Custom, NotSent, Report, Succeeds
from servers import frames as F
from servers.scenario import Script

ENABLE_CONNECT_PROTOCOL = 0x8   # §3
MESSAGE = b"\x81\x05hello"      # one unmasked WebSocket text frame: what the server "says"
WEBSOCKET = Job((Req("/chat", method="CONNECT", protocol="websocket"),))


class ExtendedConnectServer(Script):
    """Sends `setting` (None: leaves it out) in its preface; answers an extended CONNECT with 200,
    MESSAGE and END_STREAM, and any other request normally."""

    def __init__(self, setting):
        values = [(F.MAX_CONCURRENT_STREAMS, 100)] + (
            [(ENABLE_CONNECT_PROTOCOL, setting)] if setting is not None else [])
        super().__init__(preface=[F.settings(values)])

    def frame_received(self, conn, f):
        if f.type == "HEADERS" and any(k == ":protocol" for k, _ in f.headers or []):
            conn.state.setdefault("tunnels", set()).add(f.stream)
            conn.send_fields(f.stream, [(":status", "200")])
            conn.send_body(f.stream, MESSAGE, end_stream=True)

    def request_received(self, conn, req):
        if req.stream not in conn.state.get("tunnels", ()):
            super().request_received(conn, req)


def _protocol_requests(ev):
    return [f for f in ev.observations.frames("HEADERS") if any(k == ":protocol" for k, _ in f.headers or [])]


def _extended_fields(ev):
    """§4: :method CONNECT, :protocol, :scheme, :path and :authority, each once."""
    heads = _protocol_requests(ev)
    if not heads:
        return False, "no request with :protocol reached the server"
    pseudo = [(k, v) for k, v in heads[0].headers if k.startswith(":")]
    names = sorted(k for k, _ in pseudo)
    values = dict(pseudo)
    ok = names == [":authority", ":method", ":path", ":protocol", ":scheme"] and values[":method"] == "CONNECT" \
        and values[":protocol"] == "websocket" and values[":path"] == "/chat" and values[":scheme"] == "https"
    return ok, f"pseudo-header fields {pseudo}"


NO_PROTOCOL = NotSent("HEADERS", "a request with :protocol", lambda f: any(k == ":protocol" for k, _ in f.headers or []),
                      name="no-protocol-sent")
OUTCOME = Report("outcome", lambda ev: ev.outcome.summary())

CASES = [
    Case(
        id="8441/4/extended-connect-fields",
        level=MUST,
        requirement="RFC 8441 §3 and §4: once the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1 the "
                    "client may send an extended CONNECT, which MUST carry :method CONNECT, "
                    ":protocol, :scheme, :path and :authority; the stream then carries the tunnel.",
        server="Sends SETTINGS_ENABLE_CONNECT_PROTOCOL=1; answers a CONNECT with :protocol websocket "
               "with 200, a 7-octet WebSocket frame and END_STREAM.",
        scenario=lambda: ExtendedConnectServer(1),
        request=WEBSOCKET,
        expect=Succeeds(MESSAGE)
        & Custom(":method CONNECT, :protocol websocket, :scheme https, :path /chat and :authority",
                 _extended_fields, name="extended-connect-fields"),
        bad={"extended-connect-no-path": "extended-connect-fields"},
        covers=("R-8441-4-1", "R-8441-3-1"),
    ),
    *[Case(
        id=f"8441/3/no-protocol-{name}",
        level=MUST,
        requirement="RFC 8441 §3 (and RFC 9113 §8.3): a client MUST NOT send :protocol unless the "
                    f"server sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1; {what}, the extended CONNECT "
                    "never goes out (what the client does instead is reported).",
        server=f"{server}; answers anything else normally.",
        scenario=lambda setting=setting: ExtendedConnectServer(setting),
        request=WEBSOCKET,
        expect=NO_PROTOCOL & OUTCOME,
        bad={"ignore-connect-setting": "no-protocol-sent"},
        covers=("R-8441-3-1",),
    ) for name, setting, what, server in (
        ("without-setting", None, "with the setting absent",
         "Leaves SETTINGS_ENABLE_CONNECT_PROTOCOL out of its SETTINGS"),
        ("setting-zero", 0, "with the setting at 0", "Sends SETTINGS_ENABLE_CONNECT_PROTOCOL=0"),
    )],
]
