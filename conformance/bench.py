"""The benchmark behind `make bench`: the catalog's speed against the physical floor.

Floor: the same client build making fresh-connection TLS h2 requests to nghttpd
on loopback. Catalog: one build at -n 0 and -n 2; then the matrix (every prepared
build, one pytest run) at -n 0 and -n 2, with its time split by build and phase. Targets are reported, never
asserted. Writes reports/bench.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from .clients import registry
from .clients.process import ClientProcess
from .procfs import listening_ports
from .reports import results

CASE_FLAGS = ["--assert=plain", "-p", "no:hypothesispytest", "-p", "no:cacheprovider"]
TARGETS = {"median_over_floor": 2.0, "catalog_n2_s": 10.0, "matrix_n2_s": 20.0, "speedup": 1.7,
           "max_wait_s": 1.0}


def measure_floor(build: registry.Build, n: int) -> dict:
    """Median ms per fresh-connection TLS h2 request against nghttpd."""
    from servers.tls import TlsMaterial
    nghttpd = shutil.which("nghttpd") or "/usr/sbin/nghttpd"
    tls, docroot = TlsMaterial(), tempfile.mkdtemp(prefix="h2cs-bench-")
    with open(os.path.join(docroot, "index.html"), "wb") as fh:
        fh.write(b"hello from h2clientspec\n")
    server = subprocess.Popen([nghttpd, "-d", docroot, "--address=127.0.0.1", "0",
                               tls.key_file, tls.cert_file],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = ClientProcess(build.name, list(build.argv), cwd=registry.ROOT)
    try:
        port = _wait_port(server.pid)
        t0 = time.monotonic()
        client.start()
        start_ms = (time.monotonic() - t0) * 1000
        reqs = [{"method": "GET", "url": f"https://127.0.0.1:{port}/index.html", "headers": [],
                 "body_b64": None, "http_version": "h2"}] * n
        job = {"type": "run", "id": "floor", "timeout_ms": 5000, "ca_file": tls.ca_file,
               "mode": "sequential", "connection": "fresh", "tls_session_cache": "separate",
               "requests": reqs}
        t1 = time.monotonic()
        reply = client.run(job, 120)
        wall = time.monotonic() - t1
        if reply.kind != "result":
            raise RuntimeError(f"floor run failed: {reply.kind} {reply.detail}")
        outs = reply.message["outcomes"]
        bad = [o for o in outs if not o["ok"] or o.get("http_version") != "2"]
        if bad:
            raise RuntimeError(f"floor run: {len(bad)} request(s) not h2 200: {bad[0].get('error')}")
        total = [o["timings"]["total_ms"] for o in outs]
        tls_ms = [o["timings"].get("tls_ms", 0) for o in outs]
        return {"server": "nghttpd", "requests": n, "median_ms": round(statistics.median(total), 3),
                "p90_ms": round(_pct(total, 90), 3), "wall_ms_per_request": round(wall * 1000 / n, 3),
                "median_tls_handshake_ms": round(statistics.median(tls_ms), 3),
                "client_process_start_ms": round(start_ms, 1)}
    finally:
        client.close()
        server.terminate()
        server.wait(5)
        tls.cleanup()
        shutil.rmtree(docroot, ignore_errors=True)


def _wait_port(pid: int, bound_s: float = 10.0) -> int:
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        ports = listening_ports(pid)
        if ports:
            return ports[0]
        time.sleep(0.01)  # polling a foreign process: there is no event to wait on
    raise RuntimeError("nghttpd did not start listening")


def run_catalog(select: list[str], jobs: str, reports: str, extra: list[str]) -> tuple[float, dict]:
    """One pytest run; `select` picks the builds (["--client", X] or ["--matrix"])."""
    cmd = [sys.executable, "-m", "pytest", "cases", "-q", *CASE_FLAGS, *select,
           "--reports", reports, "-n", jobs, *extra]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=registry.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    path = os.path.join(reports, "results.json")
    if not os.path.exists(path):
        raise RuntimeError(f"catalog run wrote no results (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
    with open(path, encoding="utf-8") as fh:
        return wall, json.load(fh)


def measure_startup() -> float:
    """Wall time of interpreter start, pytest start-up and collection, with no case run."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "pytest", "cases", "-q", "--collect-only", *CASE_FLAGS],
                   cwd=registry.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))] if s else 0.0


def _dist(values: list[float]) -> dict:
    return {"count": len(values), "median_ms": round(statistics.median(values) * 1000, 2) if values else None,
            "p90_ms": round(_pct(values, 90) * 1000, 2), "max_ms": round(max(values, default=0) * 1000, 2)}


def matrix_figures(m0: tuple[float, dict], m2: tuple[float, dict]) -> dict:
    """The matrix at -n 0 and -n 2, and where its time goes, build by build."""
    (wall0, doc0), (wall2, doc2) = m0, m2
    per_build = {}
    for name, b in doc2["builds"].items():
        mine = list(results.cases_of(doc2, name).values())
        phases: dict[str, float] = {}
        for c in mine:
            for k, v in c["phases"].items():
                phases[k] = phases.get(k, 0) + v
        per_build[name] = {"version": b.get("version"), "cases": len(mine),
                           "case_seconds": round(sum(c["seconds"] for c in mine), 2),
                           "waiting_cases_s": round(sum(c["seconds"] for c in mine if c["waits"]), 2),
                           "phases_s": {k: round(v, 2) for k, v in sorted(phases.items())}}
    labels = lambda d: {(c["client"], c["id"]): c["label"] for c in d["cases"]}  # noqa: E731
    return {"builds": per_build, "n0_wall_s": round(wall0, 2), "wall_s": round(wall2, 2),
            "speedup": round(wall0 / wall2, 2) if wall2 else None,
            "case_runs": len(doc2["cases"]), "verdicts_n0_equal_n2": labels(doc0) == labels(doc2)}


def analyse(floor: dict, wall0: float, doc0: dict, wall2: float, doc2: dict, startup: float,
            matrix: dict) -> dict:
    cases = doc0["cases"]
    case_work = sum(c["seconds"] for c in cases)
    event = [c["seconds"] for c in cases if not c["waits"]]
    waits = [c["seconds"] for c in cases if c["waits"]]
    median_ms = statistics.median(event) * 1000 if event else 0
    phases: dict[str, float] = {}
    for c in cases:
        for k, v in c["phases"].items():
            phases[k] = phases.get(k, 0) + v
        for o in c["outcomes"]:
            phases["client_tls_handshake"] = phases.get("client_tls_handshake", 0) + \
                max(0.0, (o["timings"].get("tls_ms") or 0) - (o["timings"].get("connect_ms") or 0)) / 1000
    slow = sorted(({"id": c["id"], "seconds": round(c["seconds"], 3), "waits": c["waits"],
                    "bound_s": _bound(c)} for c in cases if c["seconds"] > TARGETS["max_wait_s"]),
                  key=lambda r: -r["seconds"])
    ratio = median_ms / floor["median_ms"] if floor["median_ms"] else None
    speedup = wall0 / wall2 if wall2 else None
    result = {
        "floor": floor,
        "catalog": {"cases": len(cases), "n0_wall_s": round(wall0, 2), "n2_wall_s": round(wall2, 2),
                    "speedup": round(speedup, 2) if speedup else None,
                    "wall_per_case_ms_n2": round(wall2 * 1000 / len(cases), 2) if cases else None},
        "per_case_event": _dist(event), "per_case_waits": _dist(waits),
        "phases_total_s": {k: round(v, 3) for k, v in sorted(phases.items())},
        "slow_cases": slow,
        "fixed_costs": {"startup_and_collection_s": round(startup, 3), "case_work_n0_s": round(case_work, 3),
                        "best_possible_speedup": round(wall0 / (startup + case_work / 2), 2) if case_work else None,
                        "note": "-n 2 pays start-up and collection in every worker; only case work divides"},
        "matrix": matrix,
        "ratios": {"median_event_case_over_floor": round(ratio, 2) if ratio else None,
                   "total_n2_over_cases_ms": round(wall2 * 1000 / len(cases), 2) if cases else None},
        "verdicts_n0_equal_n2": {c["id"]: c["label"] for c in cases} ==
                                {c["id"]: c["label"] for c in doc2["cases"]},
    }
    result["targets"] = {
        "median_event_case <= 2x floor": _target(ratio, TARGETS["median_over_floor"], le=True),
        "catalog at -n 2 <= 10 s": _target(wall2, TARGETS["catalog_n2_s"], le=True),
        "matrix at -n 2 <= 20 s": _target(matrix["wall_s"], TARGETS["matrix_n2_s"], le=True),
        "speed-up -n0 -> -n2 >= 1.7x": _target(speedup, TARGETS["speedup"], le=False),
        "no event case over 1 s": "met" if not [s for s in slow if not s["waits"]] else
        "missed: " + ", ".join(s["id"] for s in slow if not s["waits"]),
    }
    return result


def _bound(case: dict) -> float | None:
    outs = case.get("outcomes") or []
    return round(max((o["timings"].get("total_ms", 0) for o in outs), default=0) / 1000, 3)


def _target(value, limit, *, le: bool) -> str:
    if value is None:
        return "n/a"
    ok = value <= limit if le else value >= limit
    return f"{'met' if ok else 'missed'} ({value:.2f} vs {limit})"


def table(r: dict) -> str:
    f, c, e, w = r["floor"], r["catalog"], r["per_case_event"], r["per_case_waits"]
    rows = [
        ("floor: nghttpd, fresh TLS h2 request (median)", f"{f['median_ms']} ms"),
        ("floor: TLS handshake (median)", f"{f['median_tls_handshake_ms']} ms"),
        ("client process start", f"{f['client_process_start_ms']} ms"),
        (f"event-terminated cases ({e['count']}): median / p90 / max",
         f"{e['median_ms']} / {e['p90_ms']} / {e['max_ms']} ms"),
        (f"cases waiting on a bound ({w['count']}): median / p90 / max",
         f"{w['median_ms']} / {w['p90_ms']} / {w['max_ms']} ms"),
        (f"catalog ({c['cases']} cases) at -n 0", f"{c['n0_wall_s']} s"),
        ("catalog at -n 2", f"{c['n2_wall_s']} s"),
        ("speed-up -n 0 -> -n 2", f"{c['speedup']}x"),
        (f"matrix ({len(r['matrix']['builds'])} builds, {r['matrix']['case_runs']} case runs) at -n 0",
         f"{r['matrix']['n0_wall_s']} s"),
        ("matrix at -n 2", f"{r['matrix']['wall_s']} s"),
        ("matrix speed-up -n 0 -> -n 2", f"{r['matrix']['speedup']}x"),
        ("median event case / floor", f"{r['ratios']['median_event_case_over_floor']}x"),
        ("total at -n 2 / case count", f"{r['ratios']['total_n2_over_cases_ms']} ms"),
    ]
    width = max(len(a) for a, _ in rows)
    out = [f"{a:<{width}}  {b}" for a, b in rows]
    out.append("")
    out += [f"target {k}: {v}" for k, v in r["targets"].items()]
    fc = r["fixed_costs"]
    out.append(f"fixed cost per pytest process (start-up + collection): {fc['startup_and_collection_s']} s; "
               f"case work at -n 0: {fc['case_work_n0_s']} s; best possible -n 2 speed-up with that "
               f"fixed cost: {fc['best_possible_speedup']}x")
    out.append("phases summed over the catalog at -n 0: " +
               ", ".join(f"{k} {v:.2f}s" for k, v in r["phases_total_s"].items()))
    out.append("matrix time by build (case seconds summed at -n 2; phases):")
    for name, b in r["matrix"]["builds"].items():
        out.append(f"  {name:15} {b['case_seconds']:7.2f} s, of which waiting cases {b['waiting_cases_s']} s; "
                   + ", ".join(f"{k} {v}s" for k, v in b["phases_s"].items()))
    if r["slow_cases"]:
        out.append("cases over 1 s:")
        out += [f"  {s['id']}: {s['seconds']} s ({'waits on its bound' if s['waits'] else 'event'};"
                f" client time {s['bound_s']} s)" for s in r["slow_cases"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance.bench")
    ap.add_argument("--client", default=registry.DEFAULT_CLIENT)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--out", default="reports/bench.json")
    args = ap.parse_args(argv)
    build = registry.find(args.client)
    floor = measure_floor(build, args.requests)
    startup = measure_startup()
    with tempfile.TemporaryDirectory(prefix="h2cs-bench-") as tmp:
        one = ["--client", args.client]
        wall0, doc0 = run_catalog(one, "0", os.path.join(tmp, "n0"), [])
        wall2, doc2 = run_catalog(one, "2", os.path.join(tmp, "n2"), [])
        matrix = matrix_figures(run_catalog(["--matrix"], "0", os.path.join(tmp, "m0"), []),
                                run_catalog(["--matrix"], "2", os.path.join(tmp, "m2"), []))
    result = analyse(floor, wall0, doc0, wall2, doc2, startup, matrix)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    print(table(result))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
