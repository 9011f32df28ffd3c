"""Headline findings of a built leaderboard, read from its per-user values (nothing is recomputed).

    python benchmarks/leaderboard_findings.py results/quick/v3/leaderboard.json

Prints, per table, each named explainer's mean with its bootstrap 95% CI and n, and its paired
difference from ``random`` on the same users (CI and n): the figures quoted when a release note says
an explainer "beats random". Also the ground-truth coverage and randomised-model control on
tables that have them, and the number of users measured per token table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from xrec_bench.metrics.stats import bootstrap_ci, paired_bootstrap

FAITHFULNESS = ("pos@10", "neg@10", "deletion_auc_minus_random", "insertion_auc_minus_random",
                "deletion_rank_auc_minus_random")
GROUND_TRUTH = ("gt_coverage", "gt_ap", "gt_ap_randomized", "gt_coverage_randomized", "gt_ap_chance")


def per_user(cell: dict, metric: str) -> dict[tuple[int, int], float]:
    values = cell["metrics"].get(metric)
    if values is None:
        return {}
    return {(int(u), int(t)): float(v) for u, t, v in zip(cell["users"], cell["targets"], values, strict=True)
            if v is not None and np.isfinite(float(v))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("leaderboard", type=Path)
    parser.add_argument("--explainers", default="leave-one-out,integrated-gradients,similarity,exact-shapley")
    args = parser.parse_args(argv)
    board = json.loads(args.leaderboard.read_text(encoding="utf-8"))
    cells = [c for c in board["cells"] if c["kind"] == "explainer" and c["status"] == "ok"]
    names = args.explainers.split(",")
    for table in sorted({(c["key"]["dataset"], c["key"]["granularity"]) for c in cells}):
        here = {c["key"]["explainer"]: c for c in cells if (c["key"]["dataset"], c["key"]["granularity"]) == table}
        print(f"\n== {table[0]} / {table[1]}: users measured per explainer "
              f"{min(len(c['users']) for c in here.values())}-{max(len(c['users']) for c in here.values())}")
        rnd = here.get("random")
        for metric in FAITHFULNESS:
            for name in ["random", *names]:
                cell = here.get(name)
                if cell is None:
                    continue
                own = per_user(cell, metric)
                if not own:
                    continue
                est = bootstrap_ci(list(own.values()), seed=0)
                line = f"  {metric:32s} {name:22s} {est.mean:+.3f} [{est.low:+.3f}, {est.high:+.3f}] n={est.n}"
                if rnd is not None and name != "random":
                    base = per_user(rnd, metric)
                    common = sorted(set(own) & set(base))
                    if common:
                        c = paired_bootstrap([own[k] for k in common], [base[k] for k in common], seed=0)
                        line += f"   vs random {c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}] n={c.n}"
                print(line)
        for metric in GROUND_TRUTH:
            for name in ["random", *names]:
                cell = here.get(name)
                own = per_user(cell, metric) if cell else {}
                if own:
                    est = bootstrap_ci(list(own.values()), seed=0)
                    print(f"  {metric:32s} {name:22s} {est.mean:.3f} [{est.low:.3f}, {est.high:.3f}] n={est.n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
