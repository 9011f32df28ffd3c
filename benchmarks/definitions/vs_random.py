"""Per-explainer means [95% bootstrap CI] and differences to random from a smoke run's cell files."""
import json
import sys
from pathlib import Path

import numpy as np

from xrec_bench.metrics.stats import bootstrap_ci, paired_bootstrap

root = Path(sys.argv[1])
cells = {}
for f in root.rglob("*.json"):
    try:
        rec = json.loads(f.read_text())
    except Exception:
        continue
    if isinstance(rec, dict) and rec.get("metrics") and "__" in f.stem and not f.stem.startswith("accuracy"):
        cells[f.stem.split("__")[1]] = rec
names = ["pos@10", "neg@10", "deletion_auc", "deletion_auc_minus_random", "insertion_auc_minus_random",
         "deletion_rank_auc_minus_random", "insertion_auc", "infidelity", "run_sensitivity", "max_sensitivity",
         "relative_input_stability"]
base = cells.get("random")
for ex, rec in sorted(cells.items()):
    print(f"== {ex}  users={len(rec['users'])}")
    for m in names:
        v = np.array([np.nan if x is None else x for x in rec["metrics"].get(m, [])], dtype=float)
        if v.size == 0:
            continue
        e = bootstrap_ci(v)
        line = f"  {m:32s} {e.mean:+.3f} [{e.low:+.3f}, {e.high:+.3f}] n={e.n}"
        if base is not None and ex != "random" and m in base["metrics"]:
            b = np.array([np.nan if x is None else x for x in base["metrics"][m]], dtype=float)
            d = paired_bootstrap(v, b)
            line += f" | minus random {d.diff:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
        print(line)
