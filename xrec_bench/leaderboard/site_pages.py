"""HTML of the site's pages. Every string from a results file goes through :func:`html.escape`."""

from __future__ import annotations

import base64
import html
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from xrec_bench.leaderboard.overview import (
    GROUPS,
    LOW_N,
    NOT_SIG_BEST,
    NOT_SIG_RANDOM,
    across_models,
    metric_groups,
    standings,
)
from xrec_bench.leaderboard.site_assets import CSS, JS

if TYPE_CHECKING:
    from xrec_bench.leaderboard.site import Version

e = html.escape
OTHER = "other"


def num(x: Any) -> str:
    if not isinstance(x, (int, float)) or x != x:
        return "–"
    a = abs(x)
    if a < 1e-12:
        return "0"
    return f"{x:.0f}" if a >= 1000 else f"{x:.2f}" if a >= 10 else f"{x:.3f}" if a >= 0.01 else f"{x:.3g}"


def page(title: str, body: str, *, nav: str = "") -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{e(title)}</title><style>{CSS}</style></head>'
            f'<body><header class="top">{nav}</header><main>{body}</main><script>{JS}</script></body></html>\n')


# ------------------------------------------------------------------ index


def render_index(suites: dict[str, list[Version]]) -> str:
    parts = ["<h1>xrec-bench leaderboards</h1>",
             '<p class="meta">Explanations of text-based recommenders, benchmarked. Each suite version is a '
             "fixed, content-hashed configuration; numbers from different versions are not comparable. "
             "Newest version first.</p>"]
    for suite, versions in suites.items():
        parts.append(f'<h2 id="suite-{e(suite)}">{e(suite)}</h2><table class="versions" id="versions-{e(suite)}">'
                     "<thead><tr><th>version</th><th>built from</th><th>what changed</th><th>tables and raw files</th></tr></thead><tbody>")
        for v in versions:
            runs = v.board.get("runs") or []
            when = max((str(r.get("finished") or "") for r in runs), default="")[:10]
            subs = f" · {len(v.submissions)} submission(s)" if v.submissions else ""
            parts.append(
                f'<tr><td><a href="{e(v.href)}">{e(suite)} v{v.version}</a>{"<br><b>latest</b>" if v is versions[0] else ""}</td>'
                f"<td>{len(runs)} run(s), {e(when)}{subs}<br><span class=\"meta\">content "
                f"{e(str(v.board['suite'].get('content_hash', ''))[:12])}</span></td>"
                f"<td>{_changelog_html(v.changelog) or '<span class=meta>(no changelog entry)</span>'}</td>"
                f"<td>{_table_links(v)}</td></tr>")
        parts.append("</tbody></table>")
    return page("xrec-bench leaderboards", "".join(parts), nav='<a href="index.html">all leaderboards</a>')


def _table_links(v: Version) -> str:
    base = f"{v.suite}/v{v.version}/"
    links = [f'<a href="{e(base)}index.html#{e(_slug(t))}">{e(t["dataset"])} · {e(t["granularity"])}</a> '
             f'(<a href="{e(base)}{e(_slug(t))}.csv">CSV</a>)' for t in v.board["tables"]]
    return "<br>".join(links + [f'<a href="{e(base)}leaderboard.json">leaderboard.json</a> (everything, per user)'])


def _changelog_html(text: str) -> str:
    """A changelog entry's paragraphs and "- " list items (continuation lines joined), escaped."""
    items: list[str] = []
    paras: list[str] = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            current = None
        elif line.startswith(("- ", "* ")):
            items.append(line[2:])
            current = items
        elif current is not None:
            current[-1] += " " + line
        else:
            paras.append(line)
            current = paras
    return "".join(f"<p>{e(p)}</p>" for p in paras) + (
        "<ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>" if items else "")


# ------------------------------------------------------------------ one version


def render_version(v: Version, versions: list[Version], raw: list[str], *, plots: bool = True) -> str:
    board, specs = v.board, v.board.get("metric_specs", {})
    tables = [_with_submissions(t, v.submissions) for t in board["tables"]]
    nav = '<a href="../../index.html">all leaderboards</a>' + "".join(
        f'<a href="../v{o.version}/index.html">{e(o.suite)} v{o.version}{" (this)" if o is v else ""}</a>' for o in versions)
    s = board["suite"]
    runs = board.get("runs") or []
    users = ", ".join(f"{e(str(k))} {e(str(n))}" for k, n in (s.get("users") or {}).items())
    models = list(dict.fromkeys(t["model"] for t in tables))
    tables = sorted(tables, key=lambda t: models.index(t["model"]))  # per-model sections, stable within a model
    model_nav = ('<p class="meta">Models: ' + " · ".join(f'<a href="#model-{e(m)}">{e(m)}</a>' for m in models)
                 + (' · <a href="#across-models">across models</a>' if len(models) > 1 else "") + "</p>")
    parts = [f"<h1>{e(v.suite)} v{v.version}</h1>",
             f'<p class="meta">suite content {e(str(s.get("content_hash", ""))[:12])} · config {e(str(board.get("config_hash")))}'
             f" · users per granularity: {users} · seeds {e(str(s.get('seeds')))} · {len(runs)} run(s): "
             f"{e(', '.join(str(r.get('run_id')) for r in runs))}</p>",
             '<p class="meta">Contents: <a href="#overview">overview</a> · <a href="#legend">how to read</a> · '
             '<a href="#changes">what changed</a> · <a href="#tables">tables</a> · <a href="#files">raw files</a></p>',
             model_nav, _overview_html(tables, specs), _across_models_html(tables, specs, plots), _legend_html(specs),
             _changes_html(v), '<h2 id="tables">Tables</h2>']
    for i, t in enumerate(tables):
        if i == 0 or t["model"] != tables[i - 1]["model"]:
            parts.append(f'<h3 id="model-{e(t["model"])}" class="model">Explaining {e(t["model"])}</h3>')
        parts.append(_table_section(t, specs, i, plots))
    if v.submissions:
        parts.append(_submissions_html(v.submissions))
    parts.append('<h2 id="files">Raw files</h2><ul>' + "".join(f'<li><a href="{e(n)}">{e(n)}</a></li>' for n in raw)
                 + "".join(f'<li><a href="submissions/{e(sub["slug"])}.json">submission by {e(sub["name"])} '
                           "(provenance)</a></li>" for sub in v.submissions) + "</ul>")
    return page(f"{v.suite} v{v.version} · xrec-bench", "".join(parts), nav=nav)


def _submissions_html(subs: list[dict[str, Any]]) -> str:
    rows = []
    for sub in subs:
        plugins = ", ".join(f"{p}=={ver}" for p, ver in (sub.get("plugins") or {}).items()) or "none"
        runs = ", ".join(f"{r.get('run_id')} (xrec-bench {r.get('package_version')}, {str(r.get('finished'))[:10]})"
                         for r in sub.get("runs") or [])
        url = sub.get("url") or ""
        link = f' · <a href="{e(url)}" rel="nofollow noopener">{e(url)}</a>' if url.startswith("https://") else ""
        rows.append(f"<li><b>{e(sub['name'])}</b>, submitted {e(str(sub.get('submitted', ''))[:10])}{link}<br>"
                    f"<span class=meta>runs: {e(runs)} · plugins: {e(plugins)} · checks passed: "
                    f"{e(', '.join(sub.get('checks') or []))} · <a href=\"submissions/{e(sub['slug'])}.json\">provenance</a>"
                    "</span></li>")
    return ('<h2 id="submissions">Outside submissions</h2><p class="meta">Rows marked "submitted by" come from runs '
            "sent by others and checked against this suite version; see the README's checklist to submit.</p>"
            f"<ul>{''.join(rows)}</ul>")


def _with_submissions(table: dict[str, Any], subs: list[dict[str, Any]]) -> dict[str, Any]:
    rows = list(table["rows"])
    where = (table["dataset"], table["model"], table["granularity"])
    for sub in subs:
        for st in sub.get("tables", []):
            if (st["dataset"], st["model"], st["granularity"]) == where:
                rows += [{**r, "explainer": f"{r['explainer']} · {sub['name']}", "base": r["explainer"],
                          "submitted_by": sub["name"], "provenance": sub["slug"]} for r in st["rows"]]
    return {**table, "rows": rows}


def _label(row: dict[str, Any]) -> str:
    if "submitted_by" not in row:
        blind = ('<span class="flag" title="never asks the model for a score: its standings show what the data '
                 'alone recovers, and it is never crowned">data baseline</span>') if row.get("model_blind") else ""
        plugin = row.get("plugin") or {}
        if plugin:
            blind += (f'{" " if blind else ""}<span class="flag" title="not shipped with xrec-bench: '
                      f'{e(str(plugin.get("entry", "")))}">plugin {e(str(plugin.get("package", "")))} '
                      f'{e(str(plugin.get("version", "")))}</span>')
        return e(row["explainer"]) + (" " + blind if blind else "")
    return (f'{e(row["base"])} <span class="flag" title="outside submission; provenance in '
            f'submissions/{e(row["provenance"])}.json">submitted by {e(row["submitted_by"])}</span>')


def _title(t: dict[str, Any]) -> str:
    return f"{t['dataset']} · {t['granularity']} · explaining {t['model']}"


def _slug(t: dict[str, Any]) -> str:
    return f"{t['dataset']}__{t['model']}__{t['granularity']}"


def _overview_html(tables: list[dict[str, Any]], specs: dict[str, Any]) -> str:
    parts = ['<h2 id="overview">Overview: which explainer, for which granularity, at what cost</h2>',
             '<p class="meta">Each cell: the explainer\'s mean place on that group of metrics (1 = first; rows sorted by '
             "the first group), the range of places its 95% CIs allow (overlapping ranges are ties), then on how many "
             "of the "
             f"group's metrics it is best or tied with the best (★) and tied with random ({NOT_SIG_RANDOM}). Greener = "
             f"best-or-tied on more of the group. A dashed outline means fewer than {LOW_N} users. Details in "
             '<a href="#legend">how to read</a>.</p>']
    for t in tables:
        stand = standings(t, specs)
        groups = list(metric_groups(t, specs))
        if not stand or not groups:
            continue
        order = sorted(stand, key=lambda x: tuple(_mid(stand[x].get(g)) for g in groups) + (x,))
        parts.append(f'<h3><a href="#{e(_slug(t))}">{e(_title(t))}</a></h3><div class="wrap"><table class="overview" '
                     f'id="overview-{e(_slug(t))}"><thead><tr><th>explainer</th>'
                     + "".join(f'<th title="{e(GROUPS[g])}">{e(g)}</th>' for g in groups) + "</tr></thead><tbody>")
        for name in order:
            row = next(r for r in t["rows"] if r["explainer"] == name)
            cells = []
            for g in groups:
                s = stand[name].get(g)
                if s is None:
                    cells.append("<td>–</td>")
                    continue
                shade = int(255 - 110 * s.share_top)
                cls = ' class="lown"' if s.low_n else ""
                tip = (f"{s.group}, {s.metrics} metric(s); mean place {s.rank:.1f}, CIs allow {s.rank_low:.1f} to {s.rank_high:.1f} of {s.of}; best or tied on "
                       f"{s.top}; tied with random on {s.like_random}; smallest n {s.n_min}")
                cells.append(f'<td{cls} style="background:rgb({shade},{min(255, shade + 60)},{shade})" title="{e(tip)}">'
                             f'<span class="rk">{s.rank:.1f}</span> <span class="n">of {s.of} · CI allows '
                             f'{_range(s.rank_low, s.rank_high)}</span><br>'
                             f'★ {s.top}/{s.metrics} · {NOT_SIG_RANDOM} {s.like_random}/{s.metrics}<br>'
                             f'<span class="n">n {_range(s.n_min, s.n_max)}{" (low)" if s.low_n else ""}</span></td>')
            parts.append(f'<tr{" class=submitted" if "submitted_by" in row else ""}><td>{_label(row)}</td>{"".join(cells)}</tr>')
        failed = [r for r in t["rows"] if r.get("status") != "ok"]
        parts.append("</tbody></table></div>")
        if failed:
            parts.append('<p class="meta">Not ranked here: ' + "; ".join(
                f"<span title=\"{e(str(r.get('reason', '')))}\">{e(r['explainer'])} ({e(str(r.get('status', '')))}: "
                f"{e(_short(str(r.get('reason', ''))))})</span>" for r in failed) + "</p>")
    return "".join(parts)


def _across_models_html(tables: list[dict[str, Any]], specs: dict[str, Any], plots: bool) -> str:
    views = across_models(tables, specs)
    if not views:
        return ""
    parts = ['<h2 id="across-models">Across models: does an explainer\'s faithfulness rank hold?</h2>',
             '<p class="meta">Each cell: the explainer\'s mean place on the faithfulness metrics when explaining that '
             "model (1 = first, of the explainers ranked there) and the range its 95% CIs allow. Kendall's tau compares "
             "two models' orders of the explainers both ranked: 1 = the same order, 0 = unrelated, -1 = reversed. An "
             "explainer that wins on one recommender and not on another is a finding about the explainer.</p>"]
    for view in views:
        title = f"{view.dataset} · {view.granularity}"
        parts.append(f'<h3>{e(title)}</h3><div class="wrap"><table class="across" id="across-{e(view.dataset)}__'
                     f'{e(view.granularity)}"><thead><tr><th>explainer</th>'
                     + "".join(f"<th>{e(m)}</th>" for m in view.models) + "</tr></thead><tbody>")
        first = view.models[0]
        order = sorted(view.places, key=lambda x: (_mid(view.places[x].get(first)), x))
        for name in order:
            cells = []
            for m in view.models:
                s = view.places[name].get(m)
                cells.append("<td>–</td>" if s is None else
                             f'<td><span class="rk">{s.rank:.1f}</span> <span class="n">of {s.of} · CI allows '
                             f"{_range(s.rank_low, s.rank_high)}</span></td>")
            parts.append(f"<tr><td>{e(name)}</td>{''.join(cells)}</tr>")
        parts.append("</tbody></table></div>")
        parts.append('<p class="meta">Kendall\'s tau: ' + "; ".join(
            f"{e(a)} vs {e(b)} {num(t)} (n {view.shared[(a, b)]})" for (a, b), t in view.tau.items()) + "</p>")
        if plots:
            from xrec_bench.leaderboard.plots import ranks_across_models_png

            png = ranks_across_models_png(view)
            if png is not None:
                parts.append(f'<img class="plot" alt="faithfulness place per model, {e(title)}" '
                             f'src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    return "".join(parts)


def _short(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mid(s) -> float:
    return s.rank if s is not None else float("inf")


def _range(lo: float, hi: float) -> str:
    a, b = round(lo, 1), round(hi, 1)
    return f"{a:g}" if a == b else f"{a:g}–{b:g}"


def _legend_html(specs: dict[str, Any]) -> str:
    groups = "".join(f"<dt>{e(g)}</dt><dd>{e(text)}</dd>" for g, text in GROUPS.items())
    metrics = "".join(
        f"<dt>{e(m)} {'↑' if s.get('higher_is_better', True) else '↓'} <span class=meta>({e(str(s.get('group')))})</span>"
        f"</dt><dd>{e(str(s.get('description', '')))}</dd>" for m, s in sorted(specs.items()))
    return ('<h2 id="legend">How to read this page</h2><dl class="legend">'
            "<dt>cell</dt><dd>mean over users (and seeds), the 95% bootstrap confidence interval in brackets, and n, the "
            "number of users behind the value. Few users (small n) means wide intervals.</dd>"
            "<dt>bold</dt><dd>the best mean on that metric.</dd>"
            f"<dt>{NOT_SIG_BEST}</dt><dd>not significantly different from the best (paired bootstrap over the same "
            "users, 95%): treat as a tie with the best.</dd>"
            f"<dt>{NOT_SIG_RANDOM}</dt><dd>not significantly different from the random explainer: no evidence this "
            "explainer beats chance on that metric.</dd>"
            "<dt>↑ / ↓</dt><dd>higher / lower is better.</dd>"
            "<dt>place range (overview)</dt><dd>the best and worst place an explainer can take once the confidence "
            "intervals are taken into account: 1–3 means it could be first or third. Ranges are averaged over the "
            "group's metrics.</dd>"
            "<dt>submitted by</dt><dd>rows from an outside submission, checked against the published suite (version, "
            "content hash, dataset checksums); their marks compare them with every row of the table.</dd>"
            f"</dl><h3>Metric groups</h3><dl class=legend>{groups}</dl><h3>Metrics</h3><dl class=legend>{metrics}</dl>")


def _changes_html(v: Version) -> str:
    head = '<h2 id="changes">What changed</h2>'
    if v.previous is None:
        return head + f'<p class="meta">First version of {e(v.suite)}.</p>' + (
            f'<div class="changelog">{_changelog_html(v.changelog)}</div>' if v.changelog else "")
    a, b = v.previous.board, v.board
    lines = [f"since <a href=\"../v{v.previous.version}/index.html\">v{v.previous.version}</a>: suite content "
             f"{e(str(a['suite'].get('content_hash', ''))[:12])} → {e(str(b['suite'].get('content_hash', ''))[:12])}"]
    for what, get in (("datasets", lambda x: set(x.get("datasets", {}))),
                      ("explainers", lambda x: {r["explainer"] for t in x["tables"] for r in t["rows"]}),
                      ("metrics", lambda x: {m for t in x["tables"] for m in t["metrics"]})):
        old, new = get(a), get(b)
        if new - old:
            lines.append(f"{what} added: {e(', '.join(sorted(new - old)))}")
        if old - new:
            lines.append(f"{what} removed: {e(', '.join(sorted(old - new)))}")
    if a["suite"].get("users") != b["suite"].get("users"):
        lines.append(f"users per granularity: {e(str(a['suite'].get('users')))} → {e(str(b['suite'].get('users')))}")
    entry = _changelog_html(v.changelog) or "<p class=meta>(no changelog entry for this version)</p>"
    return head + f'<div class="changelog">{entry}</div><ul class="meta">' + "".join(f"<li>{x}</li>" for x in lines) + "</ul>"


def _table_section(t: dict[str, Any], specs: dict[str, Any], i: int, plots: bool) -> str:
    groups = metric_groups(t, specs)
    grouped = {m for ms in groups.values() for m in ms}
    rest = [m for m in t["metrics"] if m not in grouped]
    if rest:
        groups[OTHER] = rest
    tid = f"table-{i}"
    chooser = '<div class="chooser">Show groups: ' + "".join(
        f'<label><input type="checkbox" checked data-table="{tid}" data-group="{e(g)}"> {e(g)}</label>' for g in groups) + "</div>"
    head1 = '<tr><th rowspan="2">explainer</th><th rowspan="2" class="metric" data-col="1">users</th>' + "".join(
        f'<th class="grp gstart g-{e(g)}" colspan="{len(ms)}" title="{e(GROUPS.get(g, ""))}">{e(g)}</th>' for g, ms in groups.items()) + "</tr>"
    order = [(g, m) for g, ms in groups.items() for m in ms]
    starts = {ms[0] for ms in groups.values()}  # a heavier rule where each group begins
    up = t["higher_is_better"]
    head2 = "<tr>" + "".join(
        f'<th class="metric g-{e(g)}{" gstart" if m in starts else ""}" data-col="{c + 2}" title="{e(str(specs.get(m, {}).get("description", "")))} '
        f'({"higher" if up.get(m, True) else "lower"} is better)">{e(m)} {"↑" if up.get(m, True) else "↓"}</th>'
        for c, (g, m) in enumerate(order)) + "</tr>"
    body = []
    for row in t["rows"]:
        cls = ' class="submitted"' if "submitted_by" in row else ""
        if row.get("status") != "ok":
            body.append(f'<tr{cls}><td>{_label(row)}</td><td data-value="0">0</td><td class="failed" colspan="{len(order)}">'
                        f"{e(str(row.get('status')))}: {e(str(row.get('reason', '')))}</td></tr>")
            continue
        cells = []
        for g, m in order:
            en = row["metrics"].get(m)
            if en is None:
                cells.append(f'<td class="g-{e(g)}{" gstart" if m in starts else ""}" data-value="">–</td>')
                continue
            best = (" best" if en.get("best") else "") + (" gstart" if m in starts else "")
            cells.append(f'<td class="g-{e(g)}{best}" data-value="{en.get("mean")!r}">{num(en.get("mean"))}{e(str(en.get("marks", "")))}'
                         f'<br><span class="ci">[{num(en.get("low"))}, {num(en.get("high"))}]</span> '
                         f'<span class="n">n={e(str(en.get("n")))}</span></td>')
        body.append(f'<tr{cls}><td>{_label(row)}</td><td data-value="{int(row.get("n_users", 0))}">'
                    f'{int(row.get("n_users", 0))}</td>{"".join(cells)}</tr>')
    slug = _slug(t)
    out = [f'<h3 id="{e(slug)}">{e(_title(t))}</h3>', _accuracy_html(t), chooser,
           f'<div class="wrap"><table class="board" id="{tid}"><thead>{head1}{head2}</thead><tbody>{"".join(body)}</tbody></table></div>',
           f'<p class="meta">Raw: <a href="{e(slug)}.csv">CSV</a> · <a href="{e(slug)}.md">Markdown</a></p>']
    if plots:
        out += _plots(t, specs)
    return "".join(out)


def _accuracy_html(t: dict[str, Any]) -> str:
    acc = t.get("accuracy") or {}
    metrics = sorted({m for v in acc.values() for m in v})
    if not metrics:
        return ""
    rows = "".join(
        f"<tr><td>{e(label)}{' (explained)' if label == t['model'] else ''}</td>" + "".join(
            f"<td>{num(v[m]['mean'])} <span class=ci>[{num(v[m]['low'])}, {num(v[m]['high'])}]</span></td>" if m in v else "<td>–</td>"
            for m in metrics) + "</tr>" for label, v in acc.items())
    return ('<details><summary class="meta">Model accuracy (test split; baselines for context)</summary>'
            f'<div class="wrap"><table><thead><tr><th>model</th>{"".join(f"<th>{e(m)} ↑</th>" for m in metrics)}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div></details>")


def _plots(t: dict[str, Any], specs: dict[str, Any]) -> list[str]:
    """The existing figures (curves, faithfulness vs latency), drawn from the stored table values."""
    from xrec_bench.leaderboard.plots import curves_png, tradeoff_png

    def est(d):
        return SimpleNamespace(estimate=SimpleNamespace(mean=d["mean"], low=d["low"], high=d["high"]))

    rows = [SimpleNamespace(explainer=r["explainer"] + (f" ({r['submitted_by']})" if "submitted_by" in r else ""),
                            curves=r.get("curves") or {},
                            entries={m: est(x) for m, x in (r.get("metrics") or {}).items() if _finite(x)})
            for r in t["rows"] if r.get("status") == "ok"]
    view = SimpleNamespace(dataset=t["dataset"], model=t["model"], granularity=t["granularity"], metrics=t["metrics"],
                           directions=t["higher_is_better"], rows=rows)
    out = []
    for png, alt in ((curves_png(view), "deletion and insertion curves"), (tradeoff_png(view, specs), "faithfulness vs latency")):
        if png is not None:
            out.append(f'<img class="plot" alt="{e(alt)}, {e(_slug(t))}" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    return out


def _finite(x: dict[str, Any]) -> bool:
    return all(isinstance(x.get(k), (int, float)) and x[k] == x[k] for k in ("mean", "low", "high"))
