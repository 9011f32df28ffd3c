"""The short table printed at the end of a run: one line per cell, failures with their reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xrec_bench.harness.cell import finite_mean

HEADLINE = ("insertion_auc", "deletion_auc", "gt_ap", "ndcg@10", "recall@10")


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width text table (no dependency needed for a dozen columns)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summarize(record: dict[str, Any], *, computed: dict[str, bool] | None = None) -> str:
    """The run's cells as a table, its counts, and every failure's reason."""
    metrics = [m for m in HEADLINE if any(m in c.get("metrics", {}) for c in record["cells"])]
    header = ["dataset", "model", "granularity", "explainer", "seed", "status", "users", *metrics, "cell_s"]
    rows, failures = [], []
    for cell in record["cells"]:
        key = cell["key"]
        values = [_fmt(finite_mean(cell["metrics"][m])) if m in cell.get("metrics", {}) else "" for m in metrics]
        rows.append([key["dataset"], key["model"], key["granularity"], key["explainer"], key["seed"], cell["status"],
                     len(cell.get("users", [])), *values, f"{cell.get('elapsed_s', 0):.1f}"])
        if cell["status"] == "failed":
            failures.append(f"  FAILED {'/'.join(str(v) for v in key.values())}: {cell.get('reason', '')}")
    c = record["counts"]
    lines = [
        format_table(header, rows),
        "",
        f"suite {record['suite']['name']} v{record['suite']['version']}: {c['planned']} cells, {c['computed']} computed, "
        f"{c['cached']} from cache; {c['ok']} ok, {c['skipped']} skipped, {c['failed']} failed; "
        f"{record['elapsed_s']:.1f}s elapsed, {record.get('cpu_s', float('nan')):.1f}s CPU",
    ]
    return "\n".join(lines + failures)


def _fmt(x: float) -> str:
    return "nan" if x != x else f"{x:.4f}"
