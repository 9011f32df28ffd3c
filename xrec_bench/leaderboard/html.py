"""The static leaderboard page: sortable tables (inline vanilla JS) and inline PNG plots. It loads
nothing from the network, so it works offline and from a file:// URL."""

from __future__ import annotations

import base64
import html

from xrec_bench.leaderboard.load import Board
from xrec_bench.leaderboard.plots import curves_png, tradeoff_png
from xrec_bench.leaderboard.tables import Table
from xrec_bench.leaderboard.write import LEGEND, arrow, est_text, num

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;cursor:pointer;user-select:none}
th.sorted-asc::after{content:" ▲"} th.sorted-desc::after{content:" ▼"}
td:first-child,th:first-child{text-align:left}
td.best{font-weight:bold} td.failed{color:#a00;text-align:left} .ci{color:#777;font-size:11px}
.wrap{overflow-x:auto;max-width:100%} .meta{color:#555;font-size:13px} img{max-width:100%;border:1px solid #eee;margin:4px 0}
"""

# Hand-written: a table sorter is a dozen lines, and the page must not fetch a library from a CDN.
JS = """
function sortTable(th){
  const table=th.closest('table'), body=table.tBodies[0], idx=[...th.parentNode.children].indexOf(th);
  const asc=!th.classList.contains('sorted-asc');
  [...th.parentNode.children].forEach(h=>h.classList.remove('sorted-asc','sorted-desc'));
  th.classList.add(asc?'sorted-asc':'sorted-desc');
  const key=r=>{const c=r.children[idx]; const v=c?c.dataset.value:undefined;
    return v===undefined||v===''?(c?c.textContent:''):parseFloat(v);};
  const rows=[...body.rows].sort((a,b)=>{const x=key(a),y=key(b);
    if(typeof x==='number'&&typeof y==='number'){if(isNaN(x))return 1;if(isNaN(y))return -1;return asc?x-y:y-x;}
    return asc?String(x).localeCompare(String(y)):String(y).localeCompare(String(x));});
  rows.forEach(r=>body.appendChild(r));
}
document.querySelectorAll('table.sortable').forEach(t=>{
  t.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
  t.dataset.sortableReady='true';
});
window.addEventListener('load',()=>{
  document.querySelectorAll('img').forEach(i=>{i.dataset.naturalWidth=i.naturalWidth;i.dataset.naturalHeight=i.naturalHeight;});
  document.body.dataset.imagesChecked='true';
});
"""


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return f'<p class="meta">({html.escape(alt)}: no data)</p>'
    data = base64.b64encode(png).decode()
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table_html(table: Table) -> str:
    e = html.escape
    def title(m: str) -> str:
        if not table.ranked.get(m, True):
            return "reference value, not ranked"
        return f'{"higher" if table.directions[m] else "lower"} is better'

    head = "".join(f'<th title="{title(m)}">{e(m)} {arrow(table, m)}</th>' for m in table.metrics)
    rows = []
    for row in table.rows:
        if row.status != "ok":
            rows.append(f"<tr><td>{e(row.label)}</td><td data-value=\"0\">0</td>"
                        f'<td class="failed" colspan="{len(table.metrics)}">{e(row.status)}: {e(row.reason)}</td></tr>')
            continue
        cells = []
        for m in table.metrics:
            en = row.entries.get(m)
            if en is None:
                cells.append('<td data-value="">–</td>')
                continue
            est = en.estimate
            cls = ' class="best"' if en.best else ""
            cells.append(f'<td data-value="{est.mean!r}"{cls}>{num(est.mean)}'
                         f'{e(en.marks)}<br><span class="ci">[{num(est.low)}, {num(est.high)}] n={int(est.n)}</span></td>')
        rows.append(f"<tr><td>{e(row.label)}</td><td data-value=\"{int(row.n_users)}\">{int(row.n_users)} / {int(row.n_requested)}</td>"
                    + "".join(cells) + "</tr>")
    return (f'<table class="sortable"><thead><tr><th>explainer</th><th>users measured / requested</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _accuracy_html(table: Table) -> str:
    e = html.escape
    metrics = sorted({m for acc in table.accuracy.values() for m in acc})
    head = "".join(f"<th>{e(m)} ↑</th>" for m in metrics)
    body = []
    for label, acc in table.accuracy.items():
        name = f"<b>{e(label)}</b> (explained)" if label == table.model else e(label)
        body.append(f"<tr><td>{name}</td>" + "".join(
            f'<td data-value="{acc[m].mean!r}">{e(est_text(acc[m]))}</td>' if m in acc else "<td></td>"
            for m in metrics) + "</tr>")
    return (f'<table class="sortable accuracy"><thead><tr><th>model</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def render_page(board: Board, tables: list[Table], *, plots: bool = True) -> str:
    e = html.escape
    s = board.suite
    runs = board.runs
    env = (runs[0].get("environment") or {}) if runs else {}
    meta = (f"suite content {e(s['content_hash'][:12])} · config {e(board.config_hash)} · "
            f"{len(runs)} run(s): {e(', '.join(str(r.get('run_id')) for r in runs))} · device {e(str(env.get('device')))} · "
            f"reference workload {num(board.reference_seconds)} s")
    sections = [f"<h1>{e(str(s['name']))} v{e(str(s['version']))}</h1><p class=\"meta\">{meta}</p><p class=\"meta\">{e(LEGEND).replace('**bold**', '<b>bold</b>')}</p>"]
    sections.append("<ul>" + "".join(f'<li><a href="#{e(t.slug)}">{e(t.dataset)} · {e(t.granularity)} · '
                                     f"{e(t.model)}</a></li>" for t in tables) + "</ul>")
    for t in tables:
        sections.append(f'<h2 id="{e(t.slug)}">{e(t.dataset)} · {e(t.granularity)} · explaining {e(t.model)}</h2>')
        sections.append(f'<h3>Model accuracy</h3><div class="wrap">{_accuracy_html(t)}</div>')
        sections.append(f'<h3>Explainers</h3><div class="wrap">{_table_html(t)}</div>')
        if plots:
            sections.append(_img(curves_png(t), f"deletion and insertion curves, {t.slug}"))
            sections.append(_img(tradeoff_png(t, board.metric_specs), f"faithfulness vs latency, {t.slug}"))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(str(s["name"]))} v{e(str(s["version"]))} · '
            f"xrec-bench</title><style>{CSS}</style></head><body>{''.join(sections)}<script>{JS}</script></body></html>\n")
