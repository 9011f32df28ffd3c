"""Test accuracy of one model on a suite's datasets, as the suite's accuracy cells compute it.

Same datasets, splits, training seeds (``derive_seed(suite.seed, "train", dataset, model, seed)``)
and full-ranking evaluation as ``xrec-bench run``, without the explainer cells: a quick way to
compare training recipes of a model against the suite's baselines. Prints one JSON line per
dataset: NDCG@10 with its 95% bootstrap CI, fit seconds (wall and process CPU) and the best
validation NDCG@10 of the training log (early stopping reads the validation split only).

    python benchmarks/reference_accuracy.py --suite quick --model bert-two-tower \\
        --params '{"train_layers": 0, "item_ids": true}' [--datasets synthetic,amazon-magazine]

``--params`` replaces the suite's parameters of that model; without it the suite's are used
(a baseline's label works too, e.g. ``--model item-knn``). ``--threads`` sets torch's threads
(default 2: the quick suite's CPU budget).
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--model", required=True, help="a model or baseline label of the suite")
    ap.add_argument("--params", help="JSON object: the model's parameters (default: the suite's)")
    ap.add_argument("--datasets", help="comma-separated dataset labels (default: all of the suite's)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from xrec_bench.datasets import load_dataset, make_split
    from xrec_bench.harness.suite import load_suite
    from xrec_bench.metrics.accuracy import evaluate_ranking
    from xrec_bench.metrics.stats import bootstrap_ci
    from xrec_bench.models import get_model
    from xrec_bench.seeding import derive_seed

    torch.set_num_threads(args.threads)
    suite = load_suite(args.suite)
    spec = next(m for m in (*suite.models, *suite.baselines) if m.label == args.model)
    params = json.loads(args.params) if args.params else dict(spec.params)
    wanted = set(args.datasets.split(",")) if args.datasets else None
    for ds_spec in suite.datasets:
        if wanted is not None and ds_spec.label not in wanted:
            continue
        dataset = load_dataset(ds_spec.name, **ds_spec.options)
        split = make_split(dataset, ds_spec.split, **ds_spec.split_options)
        for seed in suite.seeds:
            model = get_model(spec.name, **params)
            wall, cpu = time.perf_counter(), time.process_time()
            model.fit(dataset, split, seed=derive_seed(suite.seed, "train", ds_spec.label, spec.label, seed))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            ndcg = bootstrap_ci(evaluate_ranking(model, split.cases("test"), ks=(10,))["ndcg@10"])
            log = getattr(model, "training_log_", [])
            print(json.dumps({
                "dataset": ds_spec.label, "model": spec.label, "seed": seed, "params": params,
                "ndcg@10": round(ndcg.mean, 4), "ci95": [round(ndcg.low, 4), round(ndcg.high, 4)], "n": ndcg.n,
                "fit_s": round(wall, 1), "fit_cpu_s": round(cpu, 1), "epochs": len(log),
                "valid_ndcg@10": round(max((r["valid_ndcg@10"] for r in log), default=float("nan")), 4),
            }), flush=True)


if __name__ == "__main__":
    main()
