"""Write a leaderboard under ``<out>/<suite>/v<version>/``: ``leaderboard.json`` (everything, with the
per-user values, so the gate can compare against it), one CSV and one Markdown table per dataset x
model x granularity, and a static ``index.html``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from xrec_bench._util.stats import Estimate
from xrec_bench.harness.record import SCHEMA_VERSION
from xrec_bench.io import write_json, write_text
from xrec_bench.leaderboard.load import Board
from xrec_bench.leaderboard.tables import (
    BEATS_BEST,
    COVERAGE,
    DATA_BASELINE,
    FDR,
    MIN_N,
    NOT_COMPARED,
    NOT_SIG_BEST,
    NOT_SIG_RANDOM,
    Entry,
    Table,
    build_tables,
)
from xrec_bench.paths import inside, slug_problem

log = logging.getLogger(__name__)

LEGEND = (
    "Cells: mean [95% bootstrap CI] over the n users the row measured. Comparisons use only the users every "
    f"compared row measured; a row covering fewer than {COVERAGE:.0%} of the widest row's users is marked "
    f"{NOT_COMPARED} and not compared. **bold**: best on those common users (only with at least {MIN_N} of them; "
    f"never a {DATA_BASELINE}). {NOT_SIG_BEST}: difference from the best not significant; {NOT_SIG_RANDOM}: "
    "difference from random not significant (paired bootstrap on the common users, Benjamini-Hochberg "
    f"adjusted within the table, FDR {FDR:.0%}); not significant is not the same as tied. "
    f"({DATA_BASELINE}): never queries the model (model-blind), shown for reference and never crowned; "
    f"{BEATS_BEST}: a data baseline significantly better than the best (a finding, not a crown). "
    "Metrics without ↑/↓ are reference values, not ranked. ↑ higher is better, ↓ lower is better.")


#: below this magnitude a value is floating-point round-off of zero (e.g. 1e-16), shown as 0
ZERO = 1e-12


def num(x: float) -> str:
    if x != x:
        return "nan"
    a = abs(x)
    if a < ZERO:
        return "0"
    return f"{x:.0f}" if a >= 1000 else f"{x:.2f}" if a >= 10 else f"{x:.3f}" if a >= 0.01 or a == 0 else f"{x:.3g}"


def est_text(e: Estimate) -> str:
    return f"{num(e.mean)} [{num(e.low)}, {num(e.high)}]"


def arrow(table: Table, metric: str) -> str:
    """↑ / ↓ for ranked metrics; nothing for reference values."""
    if not table.ranked.get(metric, True):
        return ""
    return "↑" if table.directions[metric] else "↓"


def entry_md(e: Entry) -> str:
    text = est_text(e.estimate)
    return (f"**{text}**" if e.best else text) + e.marks + f" n={e.estimate.n}"


def leaderboard_dir(out: str | Path, board: Board) -> Path:
    """``<out>/<suite>/v<version>``; refused unless the suite name is a slug and the folder lies under ``out``."""
    name, version = board.suite["name"], board.suite["version"]
    problem = slug_problem(name)
    if problem or isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"Refusing to write a leaderboard for suite {name!r} v{version!r}: the name {problem or 'is fine'}; "
                         "the version must be an int.")
    inside(out, name, f"v{version}")
    return Path(out) / name / f"v{version}"


def _file(folder: Path, name: str) -> Path:
    """A file of the leaderboard folder, named from a slug and checked to stay in the folder."""
    inside(folder, name)
    return folder / name


def write_leaderboard(board: Board, out: str | Path, *, plots: bool = True) -> Path:
    """Write every file; returns the folder. Files are replaced atomically."""
    from xrec_bench.leaderboard.html import render_page

    target = leaderboard_dir(out, board)
    tables = build_tables(board)
    for table in tables:
        for part in (table.dataset, table.model, table.granularity):
            if slug_problem(part):
                raise ValueError(f"Refusing to write table {table.slug!r}: {part!r} {slug_problem(part)}")
    write_json(_file(target, "leaderboard.json"), board_json(board, tables), indent=None)
    for table in tables:
        write_text(_file(target, f"{table.slug}.csv"), table_frame(table).to_csv(index=False))
        write_text(_file(target, f"{table.slug}.md"), table_markdown(table))
    write_text(_file(target, "README.md"), index_markdown(board, tables))
    write_text(_file(target, "index.html"), render_page(board, tables, plots=plots))
    log.info("leaderboard written to %s (%d tables)", target, len(tables))
    return target


def board_json(board: Board, tables: list[Table]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION, "kind": "leaderboard", "suite": board.suite,
        "config_hash": board.config_hash, "datasets": board.datasets, "models": board.models,
        "metric_specs": board.metric_specs, "runs": board.runs, "tables": [t.as_dict() for t in tables],
        "cells": sorted(board.cells, key=lambda c: (tuple(str(v) for v in c["key"].values()), c["cache_key"])),
    }


def table_frame(table: Table) -> pd.DataFrame:
    records = []
    model_acc = table.accuracy.get(table.model, {})
    for row in table.rows:
        rec: dict[str, Any] = {"explainer": row.explainer, "status": row.status, "model_blind": row.model_blind,
                               "n_users": row.n_users, "n_requested": row.n_requested,
                               "plugin": f"{row.plugin['package']} {row.plugin['version']}" if row.plugin else ""}
        for m in table.metrics:
            e = row.entries.get(m)
            rec[f"{m}_mean"] = e.estimate.mean if e else None
            rec[f"{m}_low"] = e.estimate.low if e else None
            rec[f"{m}_high"] = e.estimate.high if e else None
            rec[f"{m}_n"] = e.estimate.n if e else 0
            rec[f"{m}_n_common"] = e.n_common if e else 0
            rec[f"{m}_marks"] = (("best" if e.best else "") + e.marks) if e else ""
        for m, est in model_acc.items():
            rec[f"model_{m}"] = est.mean
        rec["reason"] = row.reason
        records.append(rec)
    return pd.DataFrame.from_records(records).round(6)


def _accuracy_md(table: Table) -> list[str]:
    metrics = sorted({m for acc in table.accuracy.values() for m in acc})
    if not metrics:
        return ["_No accuracy cells (model training failed?)._"]
    lines = ["| model | " + " | ".join(f"{m} ↑" for m in metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for label, acc in table.accuracy.items():
        name = f"**{label}** (explained)" if label == table.model else label
        lines.append(f"| {name} | " + " | ".join(est_text(acc[m]) if m in acc else "" for m in metrics) + " |")
    return lines


def table_markdown(table: Table) -> str:
    arrows = {m: arrow(table, m) for m in table.metrics}
    lines = [f"## {table.dataset} · {table.granularity} · explaining {table.model}", "",
             "Model accuracy (test split, full ranking; baselines for context):", "", *_accuracy_md(table), ""]
    lines.append("| explainer | users measured / requested | "
                 + " | ".join(f"{m} {arrows[m]}".strip() for m in table.metrics) + " |")
    lines.append("|---" * (len(table.metrics) + 2) + "|")
    for row in table.rows:
        if row.status != "ok":
            lines.append(f"| {row.label} | {row.status}: {row.reason} |" + " |" * len(table.metrics))
            continue
        cells = [entry_md(row.entries[m]) if m in row.entries else "–" for m in table.metrics]
        lines.append(f"| {row.label} | {row.n_users} / {row.n_requested} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", LEGEND, ""])


def index_markdown(board: Board, tables: list[Table]) -> str:
    s = board.suite
    head = [f"# {s['name']} v{s['version']} leaderboard", "",
            f"Suite content {s['content_hash'][:12]}, config {board.config_hash}; runs: "
            + ", ".join(r.get("run_id") or "?" for r in board.runs), ""]
    head += [f"- [{t.dataset} · {t.granularity} · {t.model}]({t.slug}.md)" for t in tables]
    return "\n".join(head + ["", "Open `index.html` for sortable tables and plots.", ""])


def table_differences(a: dict[str, Any], b: dict[str, Any], *, ignore_latency: bool = True) -> list[str]:
    """Cells of two ``leaderboard.json`` files that differ at the precision the tables show.

    Latency metrics (seconds) differ between any two runs, so they are left out by default."""
    from xrec_bench.leaderboard.plots import is_latency

    specs = {**a.get("metric_specs", {}), **b.get("metric_specs", {})}

    def flat(board: dict[str, Any]) -> dict[tuple, str]:
        out: dict[tuple, str] = {}
        for t in board["tables"]:
            where = (t["dataset"], t["model"], t["granularity"])
            for model, acc in t["accuracy"].items():
                for m, e in acc.items():
                    out[(*where, model, m)] = est_text(Estimate(e["mean"], e["low"], e["high"], e["n"]))
            for row in t["rows"]:
                out[(*where, row["explainer"], "status")] = row["status"]
                for m, e in row["metrics"].items():
                    if ignore_latency and is_latency(m, specs.get(m)):
                        continue
                    out[(*where, row["explainer"], m)] = est_text(Estimate(e["mean"], e["low"], e["high"], e["n"])) + e["marks"]
        return out

    fa, fb = flat(a), flat(b)
    return [f"{'/'.join(map(str, k))}: {fa.get(k, '(absent)')} != {fb.get(k, '(absent)')}"
            for k in sorted(set(fa) | set(fb), key=str) if fa.get(k) != fb.get(k)]
