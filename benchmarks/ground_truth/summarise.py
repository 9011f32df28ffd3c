"""Ground-truth figures of a results folder (cell files): coverage, gt_ap, the randomised-model
control against chance, and the control split by whether the randomised model itself uses the cause.

    xrec-bench run --suite benchmarks/ground_truth/gt_smoke.toml --out /tmp/gt --no-progress
    python benchmarks/ground_truth/summarise.py /tmp/gt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _mean(v: np.ndarray) -> str:
    ok = np.isfinite(v)
    return f"{v[ok].mean():.3f} (n={ok.sum()})" if ok.any() else "nan (n=0)"


def main(folder: str) -> None:
    for path in sorted(Path(folder, "cells").rglob("*.json")):
        cell = json.loads(path.read_text())
        if cell.get("kind") != "explainer" or cell["status"] != "ok":
            continue
        m = {k: np.array([np.nan if x is None else x for x in v], float) for k, v in cell["metrics"].items()}
        cov, rand_cov = m["gt_coverage"], m["gt_coverage_randomized"]
        blind = (cell.get("explainer_flags") or {}).get("model_blind")
        not_used = rand_cov == 0
        print(f"{cell['key']['granularity']:8s} {cell['key']['explainer']:22s} model_blind={blind} "
              f"coverage={np.nansum(cov):.0f}/{np.isfinite(cov).sum()} | gt_ap={_mean(m['gt_ap'])} "
              f"gt_ap_randomized={_mean(m['gt_ap_randomized'])} gt_ap_chance={_mean(m['gt_ap_chance'])} "
              f"gt_coverage_randomized={_mean(rand_cov)} | where the randomised model does not use the cause: "
              f"gt_ap_randomized={_mean(m['gt_ap_randomized'][not_used])} chance={_mean(m['gt_ap_chance'][not_used])}")


if __name__ == "__main__":
    main(sys.argv[1])
