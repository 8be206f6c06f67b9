"""The curl command line equivalent to a job (docs/clients.md `run`), for builds of the curl
family: what the application asked libcurl to do, in a form anyone can rerun and argue with."""
from __future__ import annotations

import base64
import hashlib
import shlex

CURL_FAMILY = {"pycurl", "curl_cffi", "curl"}    # hello.client.name of libcurl-based adapters
VERSION_FLAGS = {"h2": ["--http2"], "h2-or-http1.1": ["--http2"],
                 "h2-prior-knowledge": ["--http2-prior-knowledge"], "http1.1": ["--http1.1"]}
INLINE_BODY = 4096      # longer bodies, or binary ones, go through a file


def curl_family(hello: dict | None) -> bool:
    return ((hello or {}).get("client") or {}).get("name") in CURL_FAMILY


def curl_command(job: dict) -> str:
    """One curl invocation for "reuse" (`--next` between requests, `--parallel` for mode
    "parallel"); one line per request for "fresh", which curl can only do as separate runs."""
    notes, per_request = [], []
    for i, req in enumerate(job["requests"], 1):
        per_request.append(_request_args(i, req, job, notes))
    if job.get("connection") == "fresh" or len(per_request) == 1:
        lines = [shlex.join(["curl", *args]) for args in per_request]
    else:
        argv = ["curl"]
        if job.get("mode") == "parallel":
            argv += ["--parallel", "--parallel-max", str(len(per_request))]
        for n, args in enumerate(per_request):
            argv += (["--next"] if n else []) + args
        lines = [shlex.join(argv)]
    return "\n".join(notes + lines)


def _request_args(i: int, req: dict, job: dict, notes: list[str]) -> list[str]:
    args = [*VERSION_FLAGS.get(req.get("http_version"), []), "--max-time", f"{job['timeout_ms'] / 1000:g}"]
    if job.get("ca_file"):
        args += ["--cacert", job["ca_file"]]
    for name, value in req.get("headers") or []:
        args += ["-H", f"{name}: {value}" if value else f"{name};"]   # "name;" sends it empty
    method, body = req.get("method", "GET"), req.get("body_b64")
    if method == "HEAD":
        args.append("--head")
    elif body is not None:
        args += ["--data-binary", _body_arg(i, base64.b64decode(body), notes)]
        if method != "POST":
            args += ["-X", method]
    elif method != "GET":
        args += ["-X", method]
    return args + [req["url"]]


def _body_arg(i: int, body: bytes, notes: list[str]) -> str:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        text = None
    if text is not None and len(text) <= INLINE_BODY and text.isprintable() and not text.startswith("@"):
        return text
    name = f"body-{i}.bin"
    notes.append(f"# {name}: the {len(body)}-byte request body (sha256 {hashlib.sha256(body).hexdigest()}), "
                 f"defined by the case")
    return "@" + name
