"""Per explainer: mean [95% bootstrap CI] of the agreement with the model's exact attributions, and the
paired difference to the random explainer (the floor), from a run's cell files.

    python benchmarks/exact_agreement/summarise.py <run folder>  (e.g. runs/exact-knn-ml100k)
"""
import json
import sys
from pathlib import Path

import numpy as np

from xrec_bench.metrics.stats import bootstrap_ci, paired_bootstrap

METRICS = ("exact_spearman", "exact_kendall", "exact_precision@1", "exact_precision@3")


def values(rec, name):
    return np.array([np.nan if x is None else x for x in rec["metrics"].get(name, [])], dtype=float)


def table(cells: dict) -> None:
    base = cells.get("random")
    print(f"| explainer | users | {' | '.join(METRICS)} | precision@3 - random |")
    print("|---|---|" + "---|" * (len(METRICS) + 1))
    ok = {k: v for k, v in cells.items() if v["status"] == "ok"}
    for name, rec in sorted(ok.items(), key=lambda kv: -np.nanmean(values(kv[1], "exact_spearman"))):
        cols = []
        for m in METRICS:
            e = bootstrap_ci(values(rec, m))
            cols.append(f"{e.mean:.3f} [{e.low:.3f}, {e.high:.3f}]")
        d = paired_bootstrap(values(rec, "exact_precision@3"), values(base, "exact_precision@3")) if base else None
        diff = f"{d.diff:+.3f} [{d.low:+.3f}, {d.high:+.3f}]" if d and name != "random" else "-"
        n = int(np.isfinite(values(rec, "exact_spearman")).sum())
        print(f"| {name} | {n} | {' | '.join(cols)} | {diff} |")
    for name, rec in sorted(cells.items()):
        if rec["status"] != "ok":
            why = rec["skipped"][0][1] if rec.get("skipped") else rec.get("reason", "")
            print(f"| {name} | 0 | skipped: {why} |")
    if base:
        print(f"\nchance (expected precision@3 of a uniformly random ranking): "
              f"{bootstrap_ci(values(base, 'exact_chance@3'))}")


groups: dict = {}
for f in sorted(Path(sys.argv[1]).rglob("history__*.json")):
    groups.setdefault((f.parent.parent.name, f.parent.name), {})[f.stem.split("__")[1]] = json.loads(f.read_text())
for (dataset, model), cells in sorted(groups.items()):
    print(f"\n### {dataset} / {model}\n")
    table(cells)
