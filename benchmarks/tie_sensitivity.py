"""How much the baselines' test accuracy moves with the leave-last-out tie rule (the figures in the
dataset cards' descriptions).

    XREC_BENCH_MIRROR=/path/to/mirror python benchmarks/tie_sensitivity.py
"""

from __future__ import annotations

from xrec_bench.datasets import load_dataset, make_split
from xrec_bench.datasets.splits import TIE_RULES
from xrec_bench.metrics.accuracy import evaluate_ranking
from xrec_bench.metrics.stats import bootstrap_ci
from xrec_bench.models import fit_or_load

DATASETS = [
    ("movielens-100k", {}),
    ("movielens-latest-small", {}),
    ("amazon-2018", {"category": "Magazine_Subscriptions"}),
]


def main() -> None:
    for name, options in DATASETS:
        dataset = load_dataset(name, progress=False, **options)
        for rule in TIE_RULES:
            split = make_split(dataset, "leave-last-out", ties=rule)
            for model in ("most-popular", "item-knn"):
                fitted = fit_or_load(dataset, split, model, params={}, seed=0, progress=False)
                e = bootstrap_ci(evaluate_ranking(fitted, split.cases("test"), ks=(10,))["ndcg@10"])
                print(f"{name}\t{rule}\t{model}\tNDCG@10 {e.mean:.4f} [{e.low:.4f}, {e.high:.4f}]")
        inter = dataset.interactions
        sizes = inter.groupby(["user", "timestamp"]).size().rename("n").reset_index()
        test = make_split(dataset, "leave-last-out").test.merge(sizes, on=["user", "timestamp"])
        shared = inter.duplicated(["user", "timestamp"], keep=False).mean()
        print(f"{name}\ttest items that tie: {(test['n'] > 1).mean():.3f} of {len(test)}; "
              f"rows sharing (user, timestamp): {shared:.3f}")


if __name__ == "__main__":
    main()
