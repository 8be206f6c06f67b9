"""report.html: one self-contained page (no network resources) a vendor can publish.

Per build its full version string and totals per level and outcome; the grid of cases
(grouped by RFC section) × builds, one cell per verdict with a colour and a symbol and the
cell's own level; a details panel per cell; filters by section, level and "differs between
builds"; a legend, the date and the suite version. The grid is plain HTML; a small script
filters it and fills the details panel from the JSON the page carries.
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from html import escape

from . import detail
from .schema import LABELS, LEVELS

STYLE = {  # label -> (background, symbol, meaning)
    "PASS": ("#bfe8bf", "✓", "the requirement is met"),
    "FAIL": ("#f2a7a7", "✗", "a MUST requirement is broken"),
    "FAIL-SHOULD": ("#f7d79a", "!", "a SHOULD requirement is not met"),
    "NOT-EXERCISED": ("#dcdcfa", "○", "the scenario never reached the behaviour under test"),
    "UNSUPPORTED": ("#e0e0e0", "⊘", "the build lacks a capability the case needs"),
    "CRASH": ("#d79ad7", "☠", "the client process died"),
    "TIMEOUT": ("#9fbff0", "◷", "the client did not answer in time"),
    "ERROR": ("#a8a8a8", "⚠", "a fault of the harness or a broken adapter message"),
}
NOT_RUN = ("#ffffff", "·", "not run for this build")
TRACE_LINES = 200

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#111}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}
.meta{color:#444}.banner{padding:.5em 1em;margin:.5em 0;border:2px solid #b00;background:#fee}
table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 6px;vertical-align:top}
th{background:#f4f4f4;text-align:left}.num{text-align:right}
.version{font-family:monospace;font-size:12px;word-break:break-all;max-width:60em}
#grid th.build{min-width:7em;max-width:16em;font-weight:normal}
#grid th.build b{display:block}#grid th.build .version{font-size:11px}
#grid tr.sec th{background:#e8eef8;font-size:1.05em}
td.cell{text-align:center;cursor:pointer;white-space:nowrap}
td.cell:focus,td.cell.open{outline:3px solid #06c;outline-offset:-3px}
td.cell .sym{font-size:1.15em;font-weight:bold}td.cell small{display:block;color:#333}
td.cell.unexpected{box-shadow:inset 0 0 0 3px #c00}
.legend span{display:inline-block;margin:2px 8px 2px 0;padding:1px 6px;border:1px solid #bbb}
#filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ccc;z-index:1}
#filters label{margin-right:1.2em}
#panel{position:fixed;top:0;right:0;width:min(52em,55vw);height:100vh;overflow:auto;background:#fff;
 border-left:2px solid #06c;box-shadow:-4px 0 12px #0003;padding:0 1em 2em;z-index:2}
#panel h2{margin-top:.6em}#panel dt{font-weight:bold;margin-top:.6em}#panel dd{margin:0 0 0 1em}
#panel pre{background:#f6f6f6;padding:.4em;white-space:pre-wrap;word-break:break-all;font-size:12px}
#panel button{float:right;margin-top:.8em}
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('h2cs-data').textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll('#grid tr.case'));
  var f = {section: document.getElementById('f-section'), level: document.getElementById('f-level'),
           differs: document.getElementById('f-differs'), notpass: document.getElementById('f-notpass')};
  function apply() {
    var shown = 0;
    rows.forEach(function (r) {
      var s = r.dataset.section, sec = f.section.value, lvl = f.level.value;
      var ok = (!sec || s === sec || s.indexOf(sec + '.') === 0) &&
               (!lvl || r.dataset.levels.split(' ').indexOf(lvl) >= 0) &&
               (!f.differs.checked || r.dataset.differs === '1') &&
               (!f.notpass.checked || r.dataset.notpass === '1');
      r.hidden = !ok; if (ok) shown++;
    });
    document.querySelectorAll('#grid tbody').forEach(function (g) {
      g.hidden = !g.querySelector('tr.case:not([hidden])');
    });
    document.getElementById('shown').textContent = shown + ' of ' + rows.length + ' cases shown';
  }
  Object.keys(f).forEach(function (k) { f[k].addEventListener('change', apply); });
  var panel = document.getElementById('panel'), body = document.getElementById('panel-body');
  function add(parent, tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    parent.appendChild(e); return e;
  }
  function open(td) {
    var d = data.cells[td.dataset.cell], c = data.cases[td.parentNode.dataset.case];
    document.querySelectorAll('td.cell.open').forEach(function (o) { o.classList.remove('open'); });
    td.classList.add('open');
    body.textContent = '';
    add(body, 'h2', c.id + ' \\u2014 ' + d.build);
    var dl = add(body, 'dl');
    function item(name, text, pre) {
      if (text === undefined || text === null || text === '') return;
      add(dl, 'dt', name); add(add(dl, 'dd'), pre ? 'pre' : 'span', text);
    }
    item('Verdict', d.symbol + ' ' + d.label + ' at ' + d.level + ' level');
    item('Differs from the expectations file', d.unexpected);
    item('Requirement', c.requirement);
    item('Requirement IDs', c.covers.join(', ') || 'none recorded');
    item('Server', c.server);
    item('Expected', d.expected);
    item('Actual', d.actual);
    item('Reason', d.reason, true);
    if (d.failed.length) item('Failed checks', d.failed.join('\\n'), true);
    item('Asked of the client', d.job, true);
    item('Equivalent curl command', d.curl, true);
    item('Frames exchanged (both directions)', d.frames, true);
    item('Client trace', d.trace, true);
    item('Client stderr', d.stderr, true);
    item('Rerun this case alone', d.rerun, true);
    panel.hidden = false;
  }
  document.getElementById('grid').addEventListener('click', function (e) {
    var td = e.target.closest('td.cell'); if (td) open(td);
  });
  document.getElementById('grid').addEventListener('keydown', function (e) {
    var td = e.target.closest('td.cell'); if (td && (e.key === 'Enter' || e.key === ' ')) open(td);
  });
  document.getElementById('panel-close').addEventListener('click', function () { panel.hidden = true; });
  apply();
})();
"""


def report_html(docs: list[dict], sources: list[str] | None = None) -> str:
    """`docs` are checked results documents (schema 3); one column per build of each.
    `sources` names where each came from, to tell apart one build in several runs."""
    sources = sources or [f"run {i + 1}" for i in range(len(docs))]
    columns = _columns(docs, sources)
    rows = _rows(docs, columns)
    cells, cases = {}, {}
    body = []
    for (rfc, section), group in _by_section(rows):
        body.append(f'<tbody><tr class=sec><th colspan="{len(columns) + 2}">{escape(_section_title(rfc, section))}'
                    f"</th></tr>")
        for cid, row in group:
            r = len(cases)
            first = next(iter(row.values()))
            cases[f"r{r}"] = {"id": cid, "requirement": first["requirement"], "server": first.get("server"),
                              "covers": first.get("covers") or []}
            tds = []
            for i, col in enumerate(columns):
                c = row.get(i)
                if c is None:
                    tds.append(f'<td class="cell none" style="background:{NOT_RUN[0]}" title="not run">'
                               f'<span class=sym>{NOT_RUN[1]}</span></td>')
                    continue
                key = f"r{r}c{i}"
                cells[key] = _cell_detail(c, col)
                colour, symbol, _ = STYLE[c["label"]]
                flag = " unexpected" if cells[key]["unexpected"] else ""
                tds.append(f'<td class="cell{flag}" tabindex=0 role=button data-cell="{key}" '
                           f'data-build="{escape(col["title"])}" data-label="{c["label"]}" '
                           f'style="background:{colour}" '
                           f'title="{escape(c["label"])}: click for details"><span class=sym>{symbol}</span> '
                           f'{escape(c["label"])}<small>{escape(detail.cell_level(c))}</small></td>')
            labels = {c["label"] for c in row.values()}
            levels = {first["level"]} | {detail.cell_level(c) for c in row.values()}
            body.append(f'<tr class=case data-case="r{r}" data-id="{escape(cid)}" '
                        f'data-section="{escape(rfc)}/{escape(section)}" '
                        f'data-levels="{" ".join(sorted(levels))}" data-differs="{int(len(labels) > 1)}" '
                        f'data-notpass="{int(labels != {"PASS"})}"><th>{escape(cid)}</th>'
                        f'<td>{escape(first["level"])}</td>{"".join(tds)}</tr>')
        body.append("</tbody>")
    data = json.dumps({"cells": cells, "cases": cases}, ensure_ascii=False).replace("<", "\\u003c")
    heads = "".join(f'<th class=build><b>{escape(col["title"])}</b><span class=version>'
                    f'{escape(col["version"])}</span></th>' for col in columns)
    return "\n".join([
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>h2clientspec conformance report</title>", f"<style>{CSS}</style></head><body>",
        "<h1>h2clientspec conformance report</h1>",
        *_header(docs, sources),
        "<h2>Builds</h2>", _builds_table(columns),
        "<h2>Totals per level and outcome</h2>", _totals(columns),
        "<h2>Legend</h2>", _legend(),
        "<h2>Verdicts by RFC section</h2>", _filters(rows),
        f'<table id="grid"><thead><tr><th>case</th><th>case level</th>{heads}</tr></thead>',
        *body, "</table>",
        '<aside id="panel" hidden><button id="panel-close" type="button">close</button>'
        '<div id="panel-body"></div></aside>',
        f'<script type="application/json" id="h2cs-data">{data}</script>',
        f"<script>{SCRIPT}</script>", "</body></html>"]) + "\n"


def _columns(docs: list[dict], sources: list[str]) -> list[dict]:
    columns = []
    for doc, source in zip(docs, sources):
        for name, b in doc["builds"].items():
            mine = [c for c in doc["cases"] if c["client"] == name]
            columns.append({"doc": doc, "name": name, "source": source, "build": b,
                            "version": b.get("version") or "version unknown",
                            "counts": Counter((detail.cell_level(c), c["label"]) for c in mine)})
    names = Counter(col["name"] for col in columns)
    for col in columns:   # one build from several runs: say which run
        col["title"] = col["name"] if names[col["name"]] == 1 else f"{col['name']} ({col['source']})"
    return columns


def _rows(docs: list[dict], columns: list[dict]) -> dict[str, dict[int, dict]]:
    rows: dict[str, dict[int, dict]] = {}
    for i, col in enumerate(columns):
        for c in col["doc"]["cases"]:
            if c["client"] == col["name"]:
                rows.setdefault(c["id"], {})[i] = c
    return rows


def _by_section(rows: dict) -> list[tuple[tuple[str, str], list]]:
    groups: dict[tuple[str, str], list] = {}
    for cid in sorted(rows, key=_natural):
        first = next(iter(rows[cid].values()))
        groups.setdefault((first["rfc"], first["section"]), []).append((cid, rows[cid]))
    return sorted(groups.items(), key=lambda kv: _natural("/".join(kv[0])))


def _section_title(rfc: str, section: str) -> str:
    return f"RFC {rfc} §{section}" if rfc.isdigit() else f"{rfc} {section}"


def _cell_detail(c: dict, col: dict) -> dict:
    known = col["build"].get("known")
    want = None if known is None else known.get(c["id"], "PASS")
    trace = detail.client_trace(c).splitlines()
    if len(trace) > TRACE_LINES:
        trace = [f"({len(trace) - TRACE_LINES} earlier lines omitted; results.json holds them)"] \
            + trace[-TRACE_LINES:]
    reason = c.get("reason") if c.get("reason") != c.get("actual") else None
    return {"build": col["title"], "label": c["label"], "symbol": STYLE[c["label"]][1],
            "level": detail.cell_level(c),
            "unexpected": f"the expectations file ({col['build'].get('expectations')}) expects {want}"
                          if want is not None and want != c["label"] else None,
            "expected": c.get("expected"), "actual": c.get("actual"),
            "reason": detail.escaped(reason, keep="\n") if reason else None,
            "failed": detail.failed_checks(c),
            "job": "\n".join(detail.job_lines(c["job"])) if c.get("job") else None,
            "curl": c.get("curl"), "frames": c.get("frames") or "(not recorded in this results file)",
            "trace": "\n".join(trace), "stderr": detail.escaped((c.get("stderr") or "").strip(), keep="\n"),
            "rerun": c.get("rerun")}


def _header(docs: list[dict], sources: list[str]) -> list[str]:
    out = [f'<p class=meta>Report generated {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}.</p>']
    for doc, source in zip(docs, sources):
        run = doc["run"]
        commit = f", commit {run['commit'][:12]}{' with local changes' if run.get('commit_dirty') else ''}" \
            if run.get("commit") else ""
        out.append(f"<p class=meta>{escape(source)}: h2clientspec {escape(run.get('suite_version') or 'unknown')}"
                   f"{escape(commit)}; run {escape(run.get('started') or '?')} to "
                   f"{escape(run.get('finished') or '?')}{'; --strict' if run.get('strict') else ''}.</p>")
        if run.get("complete") is False:
            out.append(f'<p class=banner><b>Incomplete run</b> ({escape(source)}): {len(doc["cases"])} of '
                       f'{run["planned"]} selected case items ran; the others have no verdict.</p>')
        for p in doc["problems"]:
            out.append(f'<p class=banner><b>No verdict for {escape(p["where"])}</b> ({escape(source)}): '
                       f'<code>{escape(detail.one_line(p["message"], 2000))}</code></p>')
    return out


def _builds_table(columns: list[dict]) -> str:
    out = ["<table><tr><th>build</th><th>runtime version</th><th>description</th>"
           "<th>expectations file</th><th>differences</th></tr>"]
    for col in columns:
        b = col["build"]
        diffs = b.get("differences")
        listed = "".join(f"<li>{escape(d['id'])}: expected {escape(d['expected'])}, got {escape(d['got'])}</li>"
                         for d in diffs or [])
        out.append(f"<tr><th>{escape(col['title'])}</th><td class=version>{escape(col['version'])}</td>"
                   f"<td>{escape(b.get('description') or '')}</td>"
                   f"<td>{escape(b.get('expectations') or 'none: judged by level')}</td>"
                   f"<td>{'-' if diffs is None else len(diffs)}{f'<ul>{listed}</ul>' if listed else ''}</td></tr>")
    return "\n".join(out) + "</table>"


def _totals(columns: list[dict]) -> str:
    labels = [lb for lb in LABELS if any(col["counts"][(lv, lb)] for col in columns for lv in LEVELS)]
    head = "".join(f'<th>{STYLE[lb][1]} {lb}</th>' for lb in labels)
    out = [f"<table><tr><th>build</th><th>level</th>{head}<th>total</th></tr>"]
    for col in columns:
        levels = [lv for lv in LEVELS if any(col["counts"][(lv, lb)] for lb in labels)] + ["all"]
        for n, level in enumerate(levels):
            counts = [sum(col["counts"][(lv, lb)] for lv in LEVELS) if level == "all"
                      else col["counts"][(level, lb)] for lb in labels]
            name = f'<th rowspan="{len(levels)}">{escape(col["title"])}</th>' if n == 0 else ""
            out.append(f"<tr>{name}<td>{level}</td>" + "".join(f"<td class=num>{v}</td>" for v in counts)
                       + f"<td class=num>{sum(counts)}</td></tr>")
    return "\n".join(out) + "</table>"


def _legend() -> str:
    items = [(lb, *STYLE[lb]) for lb in LABELS] + [("not run", *NOT_RUN)]
    spans = "".join(f'<span style="background:{colour}"><b>{symbol}</b> {escape(label)}: {escape(meaning)}</span>'
                    for label, colour, symbol, meaning in items)
    return (f'<p class=legend>{spans}</p><p>Each cell shows its verdict and the level it stands at: the level of '
            f'the requirement it broke, which can be below the case level. A red frame marks a verdict that '
            f'differs from the build\'s expectations file. Click a cell for its details.</p>')


def _filters(rows: dict) -> str:
    sections: set[tuple[str, str]] = set()
    for row in rows.values():
        first = next(iter(row.values()))
        parts = first["section"].split(".")
        sections |= {(first["rfc"], ".".join(parts[:n])) for n in range(1, len(parts) + 1)}
    options = "".join(f'<option value="{escape(r)}/{escape(s)}">{escape(_section_title(r, s))}</option>'
                      for r, s in sorted(sections, key=lambda rs: _natural("/".join(rs))))
    levels = "".join(f'<option value="{lv}">{lv}</option>' for lv in LEVELS)
    return ('<div id="filters">'
            f'<label>section <select id="f-section"><option value="">all</option>{options}</select></label>'
            f'<label>level <select id="f-level"><option value="">all</option>{levels}</select></label>'
            '<label><input type="checkbox" id="f-differs"> differs between builds</label>'
            '<label><input type="checkbox" id="f-notpass"> not PASS somewhere</label>'
            '<span id="shown"></span></div>')


def _natural(cid: str) -> list:
    """9113/3.2/x before 9113/10.5/y."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", cid)]
