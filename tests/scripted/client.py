"""The scripted client's API: Behaviour knobs, named profiles, hello() and run_job().

run_job() takes a docs/clients.md `run` message and returns its `result`. The
job loop assigns transfers to connections (reusing, queueing, retrying), waits
on the sockets and enforces each transfer's timeout.
"""
from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, replace
from typing import Callable
from urllib.parse import urlsplit

from conformance.clients.jobs import PROTOCOL, phases_of

from . import checks, tunnel
from .pacing import Pacing
from .connection import OUR_MAX_FRAME, TRACE_CAP, H2Connection
from .transport import (TLS, TransferError, addresses, certificate_covers, close_socket, connect,
                        http1_exchange, wait_readable)


@dataclass(frozen=True)
class Behaviour:  # all defaults = conforming; each misbehaving profile changes one thing
    validate: bool = True            # False = naive: accept anything that completes
    ack_settings: bool = True
    ack_ping: bool = True
    answer_ping_ack: bool = False    # misbehaviour: answer a PING ACK with a PING ACK (§6.7)
    send_goaway_on_error: bool = True  # on a connection error send GOAWAY(code) before closing
    error_code: str | None = None    # if set, this code name replaces the right one in every error GOAWAY/RST_STREAM
    stream_errors_as_connection_errors: bool = False  # conforming alternative (§5.4.2)
    retry_limit: int = 1             # automatic retries of refused requests; 0 = never
    refused_ok: bool = False         # misbehaviour: REFUSED_STREAM reported as an empty 200
    h11_required_retries: int | None = None  # misbehaviour: HTTP_1_1_REQUIRED is a refusal, retried over h2
    honour_goaway: bool = True       # False: keeps opening streams after GOAWAY
    goaway_fails_inflight: bool = False  # misbehaviour: GOAWAY fails streams at or below last-stream-id
    reuse_connection: bool = True    # sequential requests reuse the live connection when allowed
    honour_fresh: bool = True        # False: reuses connections even when the job says "fresh"
    respect_alpn: bool = True        # False: speaks h2 over TLS whatever ALPN selected (§3.2)
    require_resumption: bool = False  # misbehaviour: an offered TLS session must resume
    respect_max_concurrent: bool = True
    honour_lowered_limit: bool = True  # False: a MAX_CONCURRENT_STREAMS below the current one is ignored (§5.1.2)
    respect_flow_control: bool = True
    use_window_credit: bool = True   # False: the server's WINDOW_UPDATEs never add send credit (§6.9.1)
    send_window_update: bool = True
    iws_to_open_streams: bool = True  # False: a new INITIAL_WINDOW_SIZE only for streams opened later (§6.9.2)
    count_padding: bool = True       # False: padding left out of our flow-control accounting (§6.9.1)
    count_dropped_data: bool = True  # False: DATA on streams we reset is not counted on the connection (§6.9)
    enforce_receive_window: bool = False  # conforming alternative (§6.9.1 MAY): DATA beyond our windows = FLOW_CONTROL_ERROR
    serial_uploads: bool = False     # misbehaviour: request bodies go out one stream at a time
    end_stream_waits: bool = False   # misbehaviour: END_STREAM on an empty DATA frame sent only with window
    read_while_paused: bool = True   # False: a connection with a paused receiver is not read (§5.2.2)
    credit_after_resume: bool = True  # False: a paused stream's credit is dropped, its window stays closed
    refuse_push_with_rst: bool = True  # False: a push the application refuses gets no RST_STREAM (§8.4.2)
    decode_promise_on_reset: bool = True  # False: a promise on a stream we reset is not decoded (§4.3, §6.6)
    reserved_limit: int | None = None  # misbehaviour (a number): replaces the scripted limit on reserved streams
    respect_max_frame_size: bool = True
    frame_size_limit: int = OUR_MAX_FRAME  # largest frame payload accepted (§4.2: our SETTINGS_MAX_FRAME_SIZE)
    respect_header_table_size: bool = True
    last_setting_wins: bool = True   # False: a setting repeated in one SETTINGS keeps its first value (§6.5.3)
    reject_unknown_settings: bool = False  # misbehaviour: unknown setting = PROTOCOL_ERROR (§6.5.2)
    strict_bounds: bool = False      # misbehaviour: the largest windows and setting values §6.5.2/§6.9.1 allow are errors
    reject_enable_push: bool = False  # misbehaviour: any SETTINGS_ENABLE_PUSH from a server, 0 too, = PROTOCOL_ERROR
    own_settings: tuple = ()         # misbehaviour: extra (identifier, value) pairs in our SETTINGS (§6.5.2)
    ack_payload: bytes = b""         # misbehaviour: our SETTINGS ACKs carry this payload (§6.5)
    trim_headers_to_limit: bool = False  # misbehaviour: fields dropped until the request fits MAX_HEADER_LIST_SIZE
    rst_answer_rst: bool = False     # misbehaviour: answer RST_STREAM with RST_STREAM
    reject_closed_stream_frames: bool = False  # misbehaviour: late WINDOW_UPDATE/RST_STREAM = STREAM_CLOSED (§5.1)
    answer_after_reset: bool = False  # misbehaviour: frames on a stream we reset get RST_STREAM(STREAM_CLOSED) (§5.1)
    decode_closed_blocks: bool = True  # False: field blocks on streams no longer open are dropped undecoded (§4.3)
    strip_connection_headers: bool = True
    edit_request: Callable[[list], list] | None = None  # misbehaviour: rewrites the request fields
    stream_id_step: int = 2          # 0: every request on stream 1 (§5.1.1)
    interleave_blocks: bool = False  # misbehaviour: our CONTINUATIONs wait until the other new streams' HEADERS (§4.3)
    send_preface: bool = True        # False: no magic and no SETTINGS at the start
    wait_settings_ack: bool = False  # misbehaviour: no request before our SETTINGS are ACKed
    report_truncated_as_ok: bool = False
    ok_on_timeout: bool = False      # misbehaviour: a transfer that timed out is reported as a 200
    settle_before_eof: bool = True   # False: an EOF read with the end of a response fails it
    upload_reset_fails: bool = False  # misbehaviour: RST_STREAM(NO_ERROR) before the upload ended fails it (§8.1)
    wait_server_settings: bool = False
    rejected_frames: frozenset = frozenset()  # misbehaviour: frame type names (or "UNKNOWN") = PROTOCOL_ERROR
    reject_undefined_flags: bool = False  # misbehaviour: flags a type does not define = PROTOCOL_ERROR (§4.1)
    reject_reserved_bit: bool = False  # misbehaviour: reserved bit of the stream id = PROTOCOL_ERROR (§4.1)
    reject_empty_data: bool = False  # misbehaviour: empty DATA without END_STREAM = PROTOCOL_ERROR (§6.1)
    strip_padding: bool = True       # False: Pad Length and padding stay in the content (§6.1, §6.2)
    skip_priority_fields: bool = True  # False: HEADERS' PRIORITY flag octets stay in the field block (§6.2)
    self_dependency_error: bool = False  # RFC 7540 §5.3.1 (conforming alternative): a HEADERS that depends on
    #                                      its own stream is a stream error PROTOCOL_ERROR
    max_continuations: int | None = None  # misbehaviour: more CONTINUATIONs per block = ENHANCE_YOUR_CALM
    end_stream_at_headers: bool = False  # misbehaviour: END_STREAM ends the stream before its CONTINUATIONs (§6.2)
    oversized_stream_error: bool = False  # misbehaviour: a field list over our limit is a stream error and its
    #                                       decoding stops there, leaving the table out of step (§10.5.1)
    small_data_limit: int | None = None  # misbehaviour: more consecutive DATA < 16 octets = ENHANCE_YOUR_CALM
    mix_streams: bool = False        # misbehaviour: DATA goes to the most recently opened transfer
    skip_informational: bool = True  # False: a 1xx HEADERS is taken as the final response (§8.1)
    accept_trailers: bool = True     # False: trailers are malformed (§8.1)
    content_length_exemptions: bool = True  # False: content-length enforced for HEAD, 204, 304 (§8.1.1)
    reject_204_content_length: bool = False  # misbehaviour: any content-length on a 204 is malformed
    fix_content_length: bool = True  # the application's content-length gives way to the body's (§8.1.1)
    resend_whole_body: bool = True   # False: a retried upload sends only what the first attempt had not
    hpack_inserts: str = "incremental"  # RFC 7541 §6.2: which literals enter the dynamic table; "nothing"
    #                                     and "all" (also without/never indexing) are misbehaviours
    accept_huffman: bool = True      # False: a Huffman-coded string is a COMPRESSION_ERROR (RFC 7541 §5.2)
    hpack_quirk: str | None = None   # misbehaviours (RFC 7541): "reject-oversize-entry" (§4.4), "evict-before-name"
    #                                  (§4.4), "reject-duplicates" (§2.3.2)
    header_table_size: int = 4096    # our SETTINGS_HEADER_TABLE_SIZE; below 4096 it binds once the server ACKs (§4.3.1)
    table_limit: str = "ack"         # misbehaviours: "early" (binds before the ACK), "never" (not enforced)
    never_index_inserted: bool = False  # misbehaviour: never-indexed sensitive fields still enter our encoder's table
    multiplex: bool = True           # False: in parallel mode every transfer opens its own connection
    close_on_error: bool = True      # False: after our own GOAWAY the connection stays in use (§5.4.1)
    close_after_goaway: bool = True  # False: after our own GOAWAY the socket stays open, unused (§5.4.1)
    goaway_on_close: bool = True     # False: a healthy connection is closed without GOAWAY(NO_ERROR) (§5.4.1, §6.8)
    kill_siblings: bool = False      # a stream error also cancels every other stream, without a GOAWAY (§5.4.2: reported)
    goaway_names_client_stream: bool = False  # misbehaviour: GOAWAY's last-stream-id is our own last stream
    tls_versions: tuple = ("TLSv1_2", None)  # (minimum, maximum or None) TLS version; §9.2: 1.2 or newer
    ip_sni: bool = False             # misbehaviour: an IP-literal host goes out as SNI (RFC 6066 §3)
    retry_421: int = 0               # retries of a 421 on a new connection (RFC 9110 §15.5.20: MAY)
    expect_wait: float | None = 0.3  # seconds a body waits for 100 (Continue); None: forever (misbehaviour)
    retry_417: bool = True           # a 417 to Expect: 100-continue: again without it (RFC 9110 §10.1.1)
    final_ends_upload: bool = True   # False: a final status before the body does not end the transfer;
    #                                  it waits for the body, held for a 100 (misbehaviour)
    strict_no_body: bool = False     # misbehaviour: even an empty DATA on a HEAD/204/304 response is malformed
    reject_obs_text: bool = False    # misbehaviour: field values with octets 0x80-0xff are malformed
    reverse_open_order: bool = False  # misbehaviour: streams opened together leave in descending id order
    stale_reuse_check: bool = True   # False: an idle connection is reused unchecked, and a request lost
    #                                  on it with no response is not sent again (RFC 9110 §9.2.2)
    rfc9218: bool = False            # implements RFC 9218 (a conforming alternative): sends a priority
    #                                  field, and RFC 7540 priority signals until the server's
    #                                  SETTINGS_NO_RFC7540_PRIORITIES=1; validates that setting (a
    #                                  change is a connection error), rejects PRIORITY_UPDATE
    keep_7540_signals: bool = False  # misbehaviour: RFC 7540 priority signals despite NO_RFC7540_PRIORITIES=1
    connect_with_path: bool = False  # misbehaviour: a CONNECT to a proxy carries :scheme and :path (§8.5)
    tunnel_trailers: bool = False    # misbehaviour: a tunnel is closed with a HEADERS frame, not END_STREAM DATA
    tunnel_reset_on_fin: bool = False  # the proxy's END_STREAM is answered with RST_STREAM(CANCEL), not
    #                                  END_STREAM (§8.5 "expects" the latter, no keyword)
    ignore_connect_setting: bool = False  # misbehaviour: extended CONNECT without ENABLE_CONNECT_PROTOCOL=1
    authority_from_dial: bool = False  # misbehaviour: :authority names the address connected to, not the URL's
    trailers_end_stream: bool = True  # False: request trailers go without END_STREAM, then an empty DATA
    #                                  ends the stream (misbehaviour, §8.1)
    pseudo_in_trailers: bool = False  # misbehaviour: request trailers carry :path (§8.1)
    fold_length_repeats: bool = True  # False: a content-length repeating one value is malformed (RFC 9110
    #                                  §8.6 allows either)
    trim_to_header_list: bool = False  # misbehaviour: request fields dropped to fit the server's
    #                                  advisory SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2)
    coalesce: str | None = None      # reuse a connection to another host at the same address (§9.1.1):
    #                                  "verified" when its certificate covers the host (MAY), "by-address"
    #                                  whatever the certificate says (misbehaviour)
    retry_421_elsewhere: bool = True  # False: a 421 is retried on the connection that sent it
    deliver_late_data: bool = False  # misbehaviour: DATA on a stream the server ended or reset joins its body (§5.1)
    upload_after_reset: bool = False  # misbehaviour: the request body goes on after the server's RST_STREAM (§6.4)
    unknown_code_fatal: bool = False  # misbehaviour: an error code §7 does not define = PROTOCOL_ERROR (§7)
    reject_second_goaway: bool = False  # misbehaviour: a second GOAWAY = PROTOCOL_ERROR (§6.8)
    reject_goaway_debug: bool = False  # misbehaviour: GOAWAY debug data = FRAME_SIZE_ERROR (§6.8)
    max_settings_frames: int | None = None  # a limit (§10.5): more SETTINGS frames = ENHANCE_YOUR_CALM
    decode_refused_blocks: bool = True  # False: a field block refused by a limit is never decoded (§10.5.1)
    max_header_list: int = 1 << 20   # decoded field list limit (§10.5.1); 2^31 is none at all
    resend_processed: bool = False   # misbehaviour: a request the server may have processed goes again (§8.7)
    keep_partial_on_retry: bool = False  # misbehaviour: a replayed response is appended to the partial one
    lowercase_names: bool = True     # False: request field names keep the application's case (§8.2)
    reassemble_data: bool = True     # False: each DATA frame replaces the body so far (§6.1)
    offer_h2: bool = True            # False: ALPN offers only http/1.1 (§3.2)
    refuse_renegotiation: bool = True  # §9.2.1: a TLS 1.2 HelloRequest is refused at the TLS layer
    reject_certificate_request: bool = True  # §9.2.3: a post-handshake CertificateRequest is CE(PROTOCOL_ERROR)
    inadequate_security: str = "block-list"  # §9.2.2 MAY: CE(INADEQUATE_SECURITY) for a block-listed
    #                                          TLS 1.2 cipher; "always" (misbehaviour): every TLS 1.2 one
    send_sni: bool = True            # False (misbehaviour): no server_name for a host name (§9.2)
    verify_certificate: bool = True  # False (misbehaviour): any certificate, any name, any issuer
    offer_h2c: bool = False          # misbehaviour: offers h2c over TLS and speaks HTTP/2 when it is selected
    early_data_unsafe: bool = False  # misbehaviour: unsafe requests (POST) go in early data too (RFC 8470 §4)
    resend_rejected_early: bool = True  # False (misbehaviour): rejected early data is not sent again
    alpn_fallback_h2: bool = False   # misbehaviour: after a refused TLS handshake, again without ALPN, in h2
    h2c_upgrade_broken: bool = False  # misbehaviour: asks for the h2c Upgrade (RFC 7540 §3.2) on http://
    #                                   and cannot go on from any answer (101 or a plain response)


_GOOD = Behaviour()
BEHAVIOURS: dict[str, Behaviour] = {
    "good": _GOOD,
    "naive": replace(_GOOD, validate=False),
    "no-settings-ack": replace(_GOOD, ack_settings=False),
    "no-ping-ack": replace(_GOOD, ack_ping=False),
    "answer-ping-ack": replace(_GOOD, answer_ping_ack=True),
    "generic-code": replace(_GOOD, error_code="INTERNAL_ERROR"),   # allowed by §5.4
    "specific-wrong-code": replace(_GOOD, error_code="HTTP_1_1_REQUIRED"),
    "no-goaway": replace(_GOOD, send_goaway_on_error=False),
    "no-retry": replace(_GOOD, retry_limit=0),
    "retry-forever": replace(_GOOD, retry_limit=1000),
    "refused-ok": replace(_GOOD, refused_ok=True),
    "h2-retry-forever": replace(_GOOD, h11_required_retries=1000),
    "ignore-goaway": replace(_GOOD, honour_goaway=False),
    "goaway-fails-inflight": replace(_GOOD, goaway_fails_inflight=True),
    "no-reuse": replace(_GOOD, reuse_connection=False),
    "ignore-fresh": replace(_GOOD, honour_fresh=False),
    "ignore-alpn": replace(_GOOD, respect_alpn=False),
    "require-resumption": replace(_GOOD, require_resumption=True),
    "ignore-max-concurrent": replace(_GOOD, respect_max_concurrent=False, wait_server_settings=True),
    "ignore-lowered-max-concurrent": replace(_GOOD, honour_lowered_limit=False),
    "ignore-flow-control": replace(_GOOD, respect_flow_control=False),
    "ignore-window-credit": replace(_GOOD, use_window_credit=False),
    "no-window-update": replace(_GOOD, send_window_update=False),
    "iws-new-streams-only": replace(_GOOD, iws_to_open_streams=False),
    "padding-not-counted": replace(_GOOD, count_padding=False),
    "dropped-data-not-counted": replace(_GOOD, count_dropped_data=False),
    "enforce-receive-window": replace(_GOOD, enforce_receive_window=True),
    "window-error-keep-open": replace(_GOOD, enforce_receive_window=True, close_after_goaway=False),
    "serial-uploads": replace(_GOOD, serial_uploads=True),
    "end-stream-waits-for-window": replace(_GOOD, end_stream_waits=True),
    "stop-reading-while-paused": replace(_GOOD, read_while_paused=False),
    "window-stays-closed-after-pause": replace(_GOOD, credit_after_resume=False),
    "refuse-push-silently": replace(_GOOD, refuse_push_with_rst=False),
    "skip-promise-on-reset-stream": replace(_GOOD, decode_promise_on_reset=False),
    "no-reserved-limit": replace(_GOOD, reserved_limit=1 << 30),
    "ignore-max-frame-size": replace(_GOOD, respect_max_frame_size=False),
    "max-frame-off-by-one": replace(_GOOD, frame_size_limit=OUR_MAX_FRAME - 1),
    "ignore-header-table-size": replace(_GOOD, respect_header_table_size=False),
    "first-setting-wins": replace(_GOOD, last_setting_wins=False),
    "reject-unknown-setting": replace(_GOOD, reject_unknown_settings=True),
    "strict-bounds": replace(_GOOD, strict_bounds=True),
    "reject-server-enable-push": replace(_GOOD, reject_enable_push=True),
    "advertise-max-frame-16383": replace(_GOOD, own_settings=((checks.MAX_FRAME_SIZE, 16383),)),
    "settings-ack-payload": replace(_GOOD, ack_payload=b"\0\x03\0\0\0\x64"),
    "trim-to-header-list-size": replace(_GOOD, trim_headers_to_limit=True),
    "rst-answer-rst": replace(_GOOD, rst_answer_rst=True),
    "reject-closed-stream-frames": replace(_GOOD, reject_closed_stream_frames=True),
    "answer-frames-after-reset": replace(_GOOD, answer_after_reset=True),
    "hpack-skip-closed-blocks": replace(_GOOD, decode_closed_blocks=False),
    "keep-connection-headers": replace(_GOOD, strip_connection_headers=False),
    "duplicate-path": replace(_GOOD, edit_request=checks.duplicate_path),
    "host-not-authority": replace(_GOOD, edit_request=checks.host_not_authority),
    "reuse-stream-id": replace(_GOOD, stream_id_step=0),
    "interleave-field-blocks": replace(_GOOD, interleave_blocks=True),
    "truncated-ok": replace(_GOOD, report_truncated_as_ok=True),
    "ok-on-timeout": replace(_GOOD, ok_on_timeout=True),
    "close-fails-complete": replace(_GOOD, settle_before_eof=False),
    "upload-reset-fails": replace(_GOOD, upload_reset_fails=True),
    "stream-as-connection": replace(_GOOD, stream_errors_as_connection_errors=True),
    "no-preface": replace(_GOOD, send_preface=False),
    "wait-for-settings-ack": replace(_GOOD, wait_settings_ack=True),
    "no-continuation": replace(_GOOD, rejected_frames=frozenset({"CONTINUATION"})),
    "reject-priority": replace(_GOOD, rejected_frames=frozenset({"PRIORITY"})),
    "reject-unknown-frame": replace(_GOOD, rejected_frames=frozenset({"UNKNOWN"})),
    "reject-unknown-flags": replace(_GOOD, reject_undefined_flags=True),
    "reject-reserved-bit": replace(_GOOD, reject_reserved_bit=True),
    "reject-empty-data": replace(_GOOD, reject_empty_data=True),
    "no-padding": replace(_GOOD, strip_padding=False),
    "no-priority-flag": replace(_GOOD, skip_priority_fields=False),
    "reject-self-dependency": replace(_GOOD, self_dependency_error=True),
    "continuation-limit": replace(_GOOD, max_continuations=8),
    "end-stream-before-continuation": replace(_GOOD, end_stream_at_headers=True),
    "oversized-stream-error": replace(_GOOD, oversized_stream_error=True),
    "small-frame-limit": replace(_GOOD, small_data_limit=8),
    "mix-streams": replace(_GOOD, mix_streams=True),
    "final-1xx": replace(_GOOD, skip_informational=False),
    "reject-trailers": replace(_GOOD, accept_trailers=False),
    "content-length-always": replace(_GOOD, content_length_exemptions=False),
    "strict-204": replace(_GOOD, reject_204_content_length=True),
    "trust-app-content-length": replace(_GOOD, fix_content_length=False),
    "partial-upload-retry": replace(_GOOD, resend_whole_body=False),
    "hpack-no-dynamic-table": replace(_GOOD, hpack_inserts="nothing"),
    "hpack-index-all": replace(_GOOD, hpack_inserts="all"),
    "no-huffman": replace(_GOOD, accept_huffman=False),
    "hpack-reject-oversize-entry": replace(_GOOD, hpack_quirk="reject-oversize-entry"),
    "hpack-evict-before-name": replace(_GOOD, hpack_quirk="evict-before-name"),
    "hpack-reject-duplicates": replace(_GOOD, hpack_quirk="reject-duplicates"),
    "small-header-table": replace(_GOOD, header_table_size=256),
    "small-table-early": replace(_GOOD, header_table_size=256, table_limit="early"),
    "small-table-unenforced": replace(_GOOD, header_table_size=256, table_limit="never"),
    "hpack-never-indexed-inserted": replace(_GOOD, never_index_inserted=True),
    "no-multiplex": replace(_GOOD, multiplex=False),
    "reuse-after-error": replace(_GOOD, close_on_error=False),
    "keep-open-after-goaway": replace(_GOOD, close_after_goaway=False),
    "silent-close": replace(_GOOD, goaway_on_close=False),
    "kill-siblings": replace(_GOOD, kill_siblings=True),
    "goaway-last-client-stream": replace(_GOOD, goaway_names_client_stream=True),
    "tls-max-1.1": replace(_GOOD, tls_versions=("TLSv1", "TLSv1_1")),
    "tls13-only": replace(_GOOD, tls_versions=("TLSv1_3", None)),
    "ip-sni": replace(_GOOD, ip_sni=True),
    "retry-421": replace(_GOOD, retry_421=1),
    "retry-421-forever": replace(_GOOD, retry_421=1000),
    "expect-wait-forever": replace(_GOOD, expect_wait=None),
    "expect-417-final": replace(_GOOD, retry_417=False),
    "expect-final-waits": replace(_GOOD, expect_wait=None, final_ends_upload=False),
    "strict-no-body": replace(_GOOD, strict_no_body=True),
    "reject-obs-text": replace(_GOOD, reject_obs_text=True),
    "ids-out-of-order": replace(_GOOD, reverse_open_order=True),
    "reuse-stale-connection": replace(_GOOD, stale_reuse_check=False),
    "rfc9218": replace(_GOOD, rfc9218=True),
    "rfc9218-keep-open": replace(_GOOD, rfc9218=True, close_after_goaway=False),
    "rfc9218-keeps-7540-signals": replace(_GOOD, rfc9218=True, keep_7540_signals=True),
    "connect-with-path": replace(_GOOD, connect_with_path=True),
    "tunnel-trailers": replace(_GOOD, tunnel_trailers=True),
    "tunnel-reset-on-fin": replace(_GOOD, tunnel_reset_on_fin=True),
    "ignore-connect-setting": replace(_GOOD, ignore_connect_setting=True),
    "userinfo-in-authority": replace(_GOOD, edit_request=checks.authority_with_userinfo),
    "ipv6-unbracketed": replace(_GOOD, edit_request=checks.unbracketed_ipv6),
    "empty-path": replace(_GOOD, edit_request=checks.empty_root_path),
    "authority-from-address": replace(_GOOD, authority_from_dial=True),
    "extended-connect-no-path": replace(_GOOD, edit_request=checks.without_scheme_and_path),
    "coalesce-verified": replace(_GOOD, coalesce="verified"),
    "coalesce-by-address": replace(_GOOD, coalesce="by-address"),
    "reject-length-repeats": replace(_GOOD, fold_length_repeats=False),
    "trim-to-header-list": replace(_GOOD, trim_to_header_list=True),
    "trailers-then-data": replace(_GOOD, trailers_end_stream=False),
    "pseudo-in-trailers": replace(_GOOD, pseudo_in_trailers=True),
    "retry-421-same-connection": replace(_GOOD, retry_421=1, retry_421_elsewhere=False),
    "deliver-late-data": replace(_GOOD, deliver_late_data=True),
    "upload-after-reset": replace(_GOOD, upload_after_reset=True),
    "unknown-code-fatal": replace(_GOOD, unknown_code_fatal=True),
    "reject-second-goaway": replace(_GOOD, reject_second_goaway=True),
    "reject-goaway-debug-data": replace(_GOOD, reject_goaway_debug=True),
    "settings-limit": replace(_GOOD, max_settings_frames=100),              # allowed by §10.5
    "settings-limit-reuse": replace(_GOOD, max_settings_frames=100, close_on_error=False),
    "continuation-limit-undecoded": replace(_GOOD, max_continuations=8, decode_refused_blocks=False),
    "no-header-list-limit": replace(_GOOD, max_header_list=1 << 31),
    "resend-processed": replace(_GOOD, resend_processed=True),
    "resend-processed-forever": replace(_GOOD, resend_processed=True, retry_limit=1000),
    "keep-partial-on-retry": replace(_GOOD, keep_partial_on_retry=True),
    "keep-name-case": replace(_GOOD, lowercase_names=False),
    "last-data-frame-only": replace(_GOOD, reassemble_data=False),
    "no-h2-in-alpn": replace(_GOOD, offer_h2=False),
    "allow-renegotiation": replace(_GOOD, refuse_renegotiation=False),
    "accept-certificate-request": replace(_GOOD, reject_certificate_request=False),
    "inadequate-security-always": replace(_GOOD, inadequate_security="always"),
    "no-sni": replace(_GOOD, send_sni=False),
    "no-verify": replace(_GOOD, verify_certificate=False),
    "offer-h2c": replace(_GOOD, offer_h2c=True),
    "h2c-upgrade-broken": replace(_GOOD, h2c_upgrade_broken=True),
    "alpn-fallback-h2": replace(_GOOD, alpn_fallback_h2=True),
    "early-data-post": replace(_GOOD, early_data_unsafe=True),
    "early-data-no-resend": replace(_GOOD, resend_rejected_early=False),
}

VERSIONS = ("h2", "h2-prior-knowledge", "http1.1", "h2-or-http1.1")
# Misbehaviour keep-open-after-goaway: connections left open after our own GOAWAY outlive the job;
# the next job closes them, so the leak outlives its own case and no longer.
_LEAKED: list = []
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SAFE = ("GET", "HEAD", "OPTIONS", "TRACE")   # RFC 9110 §9.2.1
# RFC 7540 §3.2: the h2c Upgrade request's fields (an empty HTTP2-Settings: no settings)
UPGRADE = (("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"), ("HTTP2-Settings", ""))


def hello() -> dict:
    return {"type": "hello", "protocol": PROTOCOL,
            "client": {"name": "scripted", "version": "scripted/1"},
            "capabilities": ["h2", "h2c", "http1.1", "parallel", "tls-session-cache", "trace", "phases", "pause",
                             "cancel", "streaming-upload", "trailers", "push", "resolve", "early-data",
                             "asterisk-form", "connect-to", "https-proxy", "extended-connect"]}


class Transfer:
    """One request of the job and what became of it."""

    def __init__(self, index: int, req: dict, b: Behaviour):
        self.index, self.b = index, b
        self.method, self.url = req["method"], req["url"]
        self.headers = [tuple(h) for h in req.get("headers") or []]
        self.body = base64.b64decode(req["body_b64"]) if req.get("body_b64") else b""
        self.pacing = Pacing(req)             # pauses, cancels, a body in chunks
        self.length_known = self.pacing.chunks is None   # body_chunks: sent without content-length
        if b.fix_content_length and self.length_known:   # §8.1.1: a content-length other than the body's is malformed
            self.headers = checks.true_content_length(self.headers, self.body)
        self.body_from = self.body_sent = 0  # where this attempt's DATA starts; body octets sent so far
        self.version = req.get("http_version", "h2")
        if self.version not in VERSIONS:
            raise ValueError(f"unknown http_version {self.version!r}")
        u = urlsplit(self.url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"unsupported URL {self.url!r}")
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.target = req.get("target") or (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.authority = u.netloc.rpartition("@")[2]
        self.connect_to, self.proxy, self.protocol = req.get("connect_to"), req.get("proxy"), req.get("protocol")
        self.tunnel = tunnel.for_transfer(self)
        p = urlsplit(self.proxy or self.url)
        self.route = (p.scheme, p.hostname, p.port or (443 if p.scheme == "https" else 80))
        self.retries, self.moves, self.h1, self.force_new = 0, 0, False, False
        self.conn, self.stream = None, None
        self.done = self.ok = False
        self.error: dict | None = None
        self.used: list = []                 # connections, for the trace
        self.notes: list[str] = []
        self.t0 = self.deadline = 0.0
        self.give_up = ("timeout", "TIMEOUT", "no complete response")   # how the deadline fails it
        self.timings = {"total_ms": 0.0, "connect_ms": 0.0, "tls_ms": 0.0}
        self._reset()

    def _reset(self) -> None:
        self.reused = False                  # went out on a connection an earlier transfer used
        self.status, self.resp_headers, self.http_version = None, [], None
        self.trailers: list = []
        self.hash, self.body_len = hashlib.sha256(), 0

    @property
    def body_complete(self) -> bool:
        """Has the application handed over the whole request body?"""
        return self.pacing.body_complete

    @property
    def request_trailers(self) -> list | None:
        return self.pacing.trailers

    @property
    def paused(self) -> bool:
        return self.pacing.paused

    @property
    def origin_of_request(self) -> tuple[str, str]:
        """(scheme, authority): what a promised request on its stream must name (§8.4.1)."""
        return self.scheme, self.authority

    def note(self, line: str) -> None:
        self.notes.append(f"{time.monotonic() % 1000:8.3f} t{self.index + 1} {line}")

    def start(self, timeout_s: float) -> None:
        self.t0 = time.monotonic()
        self.deadline = self.t0 + timeout_s
        self.pacing.start(self.t0)

    def next_event(self) -> float:
        return min(self.deadline, self.pacing.next_event())

    # -- called by connections ------------------------------------------------------
    def attach(self, conn, stream: int | None) -> None:
        self.conn, self.stream = conn, stream
        if stream is not None:
            self.http_version = "2"
        if conn not in self.used:
            self.used.append(conn)

    def detach(self) -> None:
        self.conn, self.stream = None, None

    def set_response(self, status: int | None, headers: list, version: str = "2") -> None:
        self.status, self.resp_headers, self.http_version = status, headers, version

    def set_trailers(self, fields: list) -> None:
        self.trailers = fields

    def add_body(self, data: bytes) -> None:
        taken, stop = self.pacing.take(self.body_len, data)
        self.hash.update(taken)
        self.body_len += len(taken)
        if stop == "pause":
            self.note(f"receiver paused after {self.body_len} body octets")
        elif stop == "cancel":
            self.cancel(f"after {self.body_len} body octets")

    def cancel(self, when: str) -> None:
        """The application abandons the transfer: RST_STREAM(CANCEL) if its stream is open."""
        self.fail("cancelled", "CANCELLED", f"cancelled by the application {when}")
        if self.conn is not None:
            self.conn.cancel(self)

    def resume(self) -> None:
        """The paused receiver takes what arrived meanwhile; the connection catches up."""
        self.note("receiver unpaused")
        self.add_body(self.pacing.resume())
        if self.conn is not None:
            self.conn.resumed()

    def grow(self, chunk: bytes) -> None:
        """The application hands over the next chunk of the body."""
        before, self.body = len(self.body), self.body + chunk
        self.note(f"body chunk of {len(chunk)} octets" + ("" if self.body_complete else ", more to come"))
        if self.conn is not None:
            self.conn.body_grew(self, before)

    def drop_body(self) -> None:
        """Misbehaviour last-data-frame-only: forget the octets received so far."""
        self.hash, self.body_len = hashlib.sha256(), 0

    def succeed(self) -> None:
        if not self.done:
            self._finish(True)

    def fail(self, cls: str, name: str, message: str) -> None:
        if self.done:
            return
        self.error = {"code": 0, "name": name, "message": message, "class": cls}
        self.note(f"failed: {cls} {name}: {message}")
        self._finish(False)

    def pretend_ok(self, why: str) -> None:
        """Misbehaviours: report success despite `why` (a 200 if no status arrived)."""
        self.note(f"misbehaviour: reporting ok despite: {why}")
        self.status = self.status or 200
        self.succeed()

    def truncated(self, cls: str, name: str, message: str, allowed: bool) -> None:
        """The response ended early; the truncated-ok knob reports that as success."""
        if allowed and self.b.report_truncated_as_ok:
            return self.pretend_ok(message)
        self.fail(cls, name, message)

    def expire(self, timeout_s: float) -> None:
        """The transfer's own timeout passed; the ok-on-timeout knob reports that as success."""
        message = f"{self.give_up[2]} within {timeout_s * 1000:.0f} ms"
        if self.b.ok_on_timeout:
            return self.pretend_ok(message)
        self.fail(self.give_up[0], self.give_up[1], message)

    def retry(self, why: str, limit: int | None = None) -> bool:
        """§8.7: a request the server never processed may go again, on a new connection."""
        limit = self.b.retry_limit if limit is None else limit
        if self.retries >= limit:
            self.note(f"no retry left ({self.retries}/{limit}): {why}")
            return False
        self.retries += 1
        self.note(f"retry {self.retries}/{limit}: {why}")
        if not self.b.resend_whole_body:         # misbehaviour: the retry picks up where the first left off
            self.body_from = self.body_sent
            self.note(f"misbehaviour: the retry sends the body from octet {self.body_from}")
        self.detach()
        self.force_new = True
        if self.b.keep_partial_on_retry and self.body_len:   # misbehaviour: the first body stays
            self.note("misbehaviour: the retried response is appended to the partial one")
            self.status, self.resp_headers = None, []
        else:
            self._reset()
        return True

    def downgrade(self, why: str) -> bool:
        """HTTP_1_1_REQUIRED (§7): once over HTTP/1.1, if the request allows it."""
        if self.b.h11_required_retries is not None:   # misbehaviour: a plain refusal, retried over h2
            self.give_up = ("http2", "HTTP_1_1_REQUIRED", "still refused over HTTP/2")
            return self.retry(why, self.b.h11_required_retries)
        if self.version != "h2-or-http1.1" or self.h1:
            return False
        self.note(f"retrying over HTTP/1.1: {why}")
        self.h1 = True
        self.detach()
        self._reset()
        return True

    def _finish(self, ok: bool) -> None:
        self.done, self.ok = True, ok
        if ok:
            self.error = None
        self.timings["total_ms"] = round((time.monotonic() - self.t0) * 1000, 3)

    def outcome(self) -> dict:
        trace = "\n".join(self.notes + [line for c in self.used for line in c.trace])
        digest = self.hash.digest()
        return {"ok": self.ok, "error": self.error, "status": self.status,
                "http_version": self.http_version, "headers": self.resp_headers,
                "trailers": self.trailers, "body_len": self.body_len, "body_sha256": digest.hex(),
                "timings": self.timings, "trace": trace[:TRACE_CAP]}


class PushedTransfer(Transfer):
    """A response the server pushed with a PUSH_PROMISE on the parent's stream (§8.4)."""

    def __init__(self, parent: Transfer, fields: list[tuple[str, str]], accepted: bool):
        value = dict(fields)
        req = {"method": value[":method"], "url": f"{value[':scheme']}://{value[':authority']}{value[':path']}",
               "headers": [(n, v) for n, v in fields if not n.startswith(":")]}
        super().__init__(parent.index, req, parent.b)
        self.parent, self.fields, self.accepted = parent, fields, accepted
        self.t0, self.deadline = time.monotonic(), parent.deadline
        self.note(f"push promised on the stream of request {parent.index}: {value[':path']}, "
                  + ("accepted" if accepted else "refused"))

    def retry(self, why: str, limit: int | None = None) -> bool:
        return False                            # nobody asked for it: nothing to send again

    def downgrade(self, why: str) -> bool:
        return False

    def report(self) -> dict:
        """Its entry in the result's `pushed` list (docs/clients.md)."""
        entry = {"parent": self.parent.index, "request_headers": [list(f) for f in self.fields],
                 "accepted": self.accepted}
        if self.accepted:
            if not self.done:
                self.fail("other", "INCOMPLETE", "the pushed response had not ended when the job did")
            entry.update({k: v for k, v in self.outcome().items() if k != "timings"})
        return entry


class _H1Trace:
    """Stands in for a connection in Transfer.used, for HTTP/1.1 exchanges."""

    def __init__(self, label: str):
        self.trace = [f"{label} HTTP/1.1"]


class Job:
    def __init__(self, job: dict, b: Behaviour):
        self.b, self.id = b, job["id"]
        self.timeout = int(job["timeout_ms"]) / 1000
        if not isinstance(self.id, str) or self.timeout <= 0:
            raise ValueError(f"id must be a string and timeout_ms positive, got {self.id!r}/{job['timeout_ms']!r}")
        if not isinstance(job["requests"], list) or not job["requests"]:
            raise ValueError("requests must be a non-empty list")
        self.connection = job.get("connection", "reuse")
        if "phases" not in job:
            job = {**job, "mode": job.get("mode", "sequential")}
        self.phases = phases_of(job)              # (mode, request indices), one after another
        self.mode = self.phases[0][0]             # the mode of the phase running
        if any(m not in ("sequential", "parallel") for m, _ in self.phases) \
                or self.connection not in ("reuse", "fresh") \
                or sorted(i for _, group in self.phases for i in group) != list(range(len(job["requests"]))):
            raise ValueError(f"unknown mode/connection or phases {job.get('phases', job.get('mode'))!r}/"
                             f"{self.connection!r}")
        cache = job.get("tls_session_cache", "separate")
        if cache not in ("shared", "separate"):
            raise ValueError(f"unknown tls_session_cache {cache!r}")
        self.tls = TLS(job.get("ca_file") or "", shared=cache == "shared",
                       require_resumption=b.require_resumption, versions=b.tls_versions, ip_sni=b.ip_sni,
                       behaviour=b, early_data=bool(job.get("early_data")))
        self.transfers = [Transfer(i, r, b) for i, r in enumerate(job["requests"])]
        self.conns: list = []
        self.push = job.get("push")               # None: push stays disabled
        if self.push not in (None, "accept", "refuse"):
            raise ValueError(f"unknown push {self.push!r}")
        self.pushed: list[PushedTransfer] = []
        self.resolve = {}                         # (host, port) -> address, like curl --resolve
        for entry in job.get("resolve", []):
            host, port, address = entry.split(":", 2)
            self.resolve[(host, int(port))] = address.strip("[]")

    def run(self) -> dict:
        while _LEAKED:
            _LEAKED.pop().close(polite=False)
        try:
            for self.mode, group in self.phases:  # every phase on the same connections
                if self.mode == "parallel":
                    self.drive([self.transfers[i] for i in group])
                    continue
                for t in (self.transfers[i] for i in group):
                    self.drive([t])
                    if not self._may_reuse():
                        self._close_all()
        finally:
            self._close_all()
        trace = "\n".join(line for c in self.conns for line in c.trace)
        result = {"type": "result", "id": self.id, "outcomes": [t.outcome() for t in self.transfers],
                  "trace": trace[:TRACE_CAP]}
        if self.push is not None:
            result["pushed"] = [p.report() for p in self.pushed]
        return result

    def _on_push(self, parent: Transfer, fields: list) -> PushedTransfer | None:
        """The application's answer to a valid promise: the transfer to take it, or None."""
        pushed = PushedTransfer(parent, fields, self.push == "accept")
        self.pushed.append(pushed)
        return pushed if pushed.accepted else None

    def _may_reuse(self) -> bool:
        return ((self.connection == "reuse" or not self.b.honour_fresh)
                and (self.b.multiplex if self.mode == "parallel" else self.b.reuse_connection))

    def _close_all(self) -> None:
        for c in self.conns:
            if c.gave_up and not self.b.close_after_goaway:   # misbehaviour: outlives the job
                _LEAKED.append(c)
            else:
                c.close()

    def drive(self, transfers: list[Transfer]) -> None:
        for t in transfers:
            t.start(self.timeout)
        while True:
            now = time.monotonic()
            for t in transfers:
                if not t.done and now >= t.deadline:
                    if t.conn is not None:
                        t.conn.cancel(t)
                    t.expire(self.timeout)
                elif not t.done:
                    self._pace(t, now)
                if not t.done and (t.conn is None or t.conn.dead):
                    self._assign(t)
            pushes = [p for p in self.pushed if p.accepted and not p.done and p.parent in transfers]
            for p in pushes:                      # a pushed response gets its parent's time
                if now >= p.deadline:
                    p.conn.cancel(p)
                    p.expire(self.timeout)
            for c in self.conns:
                c.pump()
            live = [t for t in transfers + pushes if not t.done]
            if not live:
                return
            for t in live:
                if t.body_sent >= len(t.body):
                    t.pacing.all_sent(time.monotonic())
            conns = list({id(t.conn): t.conn for t in live if t.conn is not None and not t.conn.dead}.values())
            timers = [x for x in (c.timer() for c in conns) if x is not None]
            wait = min([t.next_event() for t in live] + timers) - time.monotonic()
            ready = wait_readable([c.sock for c in conns], wait)
            for c in conns:   # misbehaviour stop-reading-while-paused: a paused receiver blocks its connection
                if c.sock in ready and (self.b.read_while_paused or not any(t.paused for t in live if t.conn is c)):
                    c.receive()

    def _pace(self, t: Transfer, now: float) -> None:
        """What the application does now: cancel, resume a paused receiver, add a body chunk."""
        if now >= t.pacing.cancel_at:
            return t.cancel(f"after {t.pacing.cancel_after_ms} ms")
        if t.pacing.resume_due(now, self.transfers):
            t.resume()
        chunk = t.pacing.due_chunk(now)
        if chunk is not None:
            t.grow(chunk)

    def _assign(self, t: Transfer) -> None:
        scheme, host, port = t.route             # the proxy's, for a tunnelled request
        h1 = not t.proxy and (t.h1 or t.version == "http1.1"
                              or (t.scheme == "http" and t.version != "h2-prior-knowledge"))
        if not h1 and not t.force_new and self._may_reuse():
            for c in self.conns:
                if (c.origin == t.route or self._coalesces(c, t)) and c.accepting():
                    if self.b.honour_goaway and self.b.stale_reuse_check:   # a GOAWAY or EOF waiting
                        c.poll()                  # to be read? (ignore-goaway does not look, like curl#2416)
                    if c.accepting():
                        t.note(f"reusing connection {c.label}")
                        t.reused = True
                        return c.enqueue(t)
        t.force_new = False
        alpn = ("http/1.1",) if h1 or not self.b.offer_h2 else (
            ("h2", "http/1.1") if t.version == "h2-or-http1.1" else ("h2",))
        if self.b.offer_h2c and not h1:           # misbehaviour: h2c over TLS (§3.2 forbids it)
            alpn = ("h2", "h2c", *alpn[1:])
        tls, forced = self.tls if scheme == "https" else None, False
        try:
            sock, key, timings = connect(host, port, tls, alpn, t.deadline, self._address(t))
        except TransferError as exc:
            if not (exc.cls == "tls" and self.b.alpn_fallback_h2 and not h1):
                return t.fail(exc.cls, exc.name, exc.message)
            t.note(f"misbehaviour: {exc.message}; connecting again without ALPN to speak h2")
            try:
                sock, key, timings = connect(host, port, tls, (), t.deadline, self._address(t))
            except TransferError as again:
                return t.fail(again.cls, again.name, again.message)
            forced = True
        t.timings.update(timings)
        label = f"c{len(self.conns) + 1}"
        selected = sock.selected_alpn_protocol() if scheme == "https" else None
        t.note(f"connected {label} to {t.connect_to or f'{host}:{port}'} alpn={selected}")
        remember = (lambda s, key=key: self.tls.remember(s, key)) if key else None
        h2 = selected == "h2" or forced or (self.b.offer_h2c and selected == "h2c")
        if not h1 and (scheme == "http" or h2 or not self.b.respect_alpn):
            c = H2Connection(sock, self.b, t.route, label, remember,
                             tls_fault=self.tls.fault if scheme == "https" else None,
                             push=None if self.push is None else self._on_push)
            self.conns.append(c)
            if hasattr(sock, "finish_handshake") and t.method not in SAFE and not self.b.early_data_unsafe:
                sock.finish_handshake()           # RFC 8470 §4: no unsafe request in early data
            return c.enqueue(t)
        if not h1 and t.version != "h2-or-http1.1":
            # §3.2: no HTTP/2 on a connection where ALPN did not select h2
            close_socket(sock)
            return t.fail("protocol-mismatch", "ALPN_MISMATCH", f"ALPN selected {selected!r}, not h2")
        self._http1(t, sock, remember, label)

    def _address(self, t: Transfer) -> tuple[str, int] | None:
        """Where t's connection goes when not to its route's host: `connect_to`, or `resolve`."""
        if t.connect_to:
            address, _, port = t.connect_to.rpartition(":")
            return address.strip("[]"), int(port)
        _, host, port = t.route
        return (self.resolve[(host, port)], port) if (host, port) in self.resolve else None

    def _addresses(self, host: str, port: int) -> set[str]:
        """Where a name leads: the job's `resolve`, else the system resolver."""
        return {self.resolve[(host, port)]} if (host, port) in self.resolve else addresses(host, port)

    def _coalesces(self, c, t: Transfer) -> bool:
        """§9.1.1: may a connection to another host serve `t`? Same scheme and port, an address in
        common, and (unless misbehaving) a certificate valid for t's host."""
        (scheme, host, port), b = c.origin, self.b
        if not b.coalesce or c.dead or (scheme, port) != (t.route[0], t.route[2]) or scheme != "https":
            return False
        if not self._addresses(host, port) & self._addresses(t.host, t.port):
            return False
        if b.coalesce == "by-address" or certificate_covers(c.sock, t.host):
            t.note(f"coalescing onto {c.label} ({host}) for {t.host}")
            return True
        return False

    def _http1(self, t: Transfer, sock, remember, label: str) -> None:
        t.used.append(_H1Trace(label))
        if not t.length_known or t.request_trailers is not None:
            close_socket(sock)
            return t.fail("other", "UNSUPPORTED", "the scripted client streams bodies and sends trailers over h2 only")
        t.set_response(None, [], "1.1")
        upgrade = self.b.h2c_upgrade_broken and t.scheme == "http" and t.version == "h2-or-http1.1"
        headers = t.headers + list(UPGRADE) if upgrade else t.headers

        def on_head(status: int, fields: list) -> None:
            t.set_response(status, fields, "1.1")
            if upgrade:
                raise TransferError("weird-reply", "UPGRADE_UNFINISHED", f"misbehaviour: status {status} to "
                                    "its h2c Upgrade, and this client cannot go on from any answer")
        try:
            http1_exchange(sock, t.method, t.target, t.authority, headers, t.body, t.deadline,
                           on_head, t.add_body)
            t.succeed()
        except TransferError as exc:
            t.truncated(exc.cls, exc.name, exc.message, allowed=exc.cls == "partial")
        except ValueError as exc:
            t.fail("weird-reply", "WEIRD_REPLY", f"unparseable HTTP/1.1 response: {exc}")
        finally:
            if remember:
                remember(sock)
            close_socket(sock)


def run_job(job: dict, behaviour: Behaviour = Behaviour()) -> dict:
    """Take a docs/clients.md `run` message, return the `result` message."""
    try:
        j = Job(job, behaviour)
    except (KeyError, ValueError, TypeError) as exc:
        return {"type": "error", "id": job.get("id", ""), "message": f"scripted client cannot run this job: {exc}"}
    return j.run()
