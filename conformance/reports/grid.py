"""The HTML compatibility grid: cases down, client builds across, one verdict per cell."""
from __future__ import annotations

import re
from html import escape

COLOURS = {"PASS": "#c8f0c8", "FAIL": "#f4b4b4", "FAIL-SHOULD": "#f8dca0", "NOT-EXERCISED": "#e8e8ff",
           "UNSUPPORTED": "#dddddd",
           "CRASH": "#d080d0", "TIMEOUT": "#a0c0f0", "ERROR": "#999999"}


def grid_html(docs: list[dict]) -> str:
    """`docs` are results.json documents (schema 2); one column per build of each."""
    columns = [(d, name) for d in docs for name in d["builds"]]
    builds = [f"{escape(name)}<br><small>{escape(str(d['builds'][name].get('version') or ''))}</small>"
              for d, name in columns]
    rows: dict[str, dict] = {}
    for i, (d, name) in enumerate(columns):
        for c in d["cases"]:
            if c["client"] == name:
                rows.setdefault(c["id"], {"case": c})[i] = c
    out = ["<!doctype html><meta charset=utf-8><title>h2clientspec compatibility grid</title>",
           "<style>body{font:13px sans-serif}td,th{border:1px solid #bbb;padding:2px 6px}"
           "table{border-collapse:collapse}td.v{text-align:center}</style>",
           "<h1>h2clientspec compatibility grid</h1><table><tr><th>case</th><th>level</th>"
           + "".join(f"<th>{b}</th>" for b in builds) + "</tr>"]
    for cid in sorted(rows, key=_natural):
        row, case = rows[cid], rows[cid]["case"]
        cells = []
        for i in range(len(columns)):
            c = row.get(i)
            label = c["label"] if c else "-"
            tip = escape((c["actual"] or c["reason"] or "") if c else "not run", quote=True)
            cells.append(f'<td class=v style="background:{COLOURS.get(label, "#fff")}" title="{tip}">'
                         f"{label}</td>")
        out.append(f'<tr><td title="{escape(case["requirement"], quote=True)}">{escape(cid)}</td>'
                   f"<td>{case['level']}</td>{''.join(cells)}</tr>")
    out.append("</table>")
    return "\n".join(out) + "\n"


def _natural(cid: str) -> list:
    """9113/3.2/x before 9113/10.5/y."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", cid)]
