"""Explainer overhead in CPU time: ``xrec-bench explain --profile``'s ratio, robust to a loaded machine.

    OMP_NUM_THREADS=1 XREC_BENCH_DATA=... python benchmarks/explainer_overhead_cpu.py \
        kernel-shap,integrated-gradients,leave-one-out,lime,saliency,input-x-gradient,gradient-shap,shapley-sampling 20

The same ratio as :func:`xrec_bench.explainers.profile.profile_explainer` (an explanation's time over the
time of the same number of model evaluations alone, in the same batch size, forward + backward for gradient
methods) on the history granularity of the quick suite's MovieLens-100K model (the model's top-1
recommendation of the first N test users), but both sides timed in CPU seconds of this process
(``time.process_time``) instead of wall time: on a shared machine a history explanation takes a few
milliseconds, about one scheduler time slice, so wall-clock ratios swing by 10x from one run to the next.
Run it with one thread (``OMP_NUM_THREADS=1``) so that CPU time is the work done. ``name:key=value``
passes one explainer parameter (e.g. ``kernel-shap:draws=batched``).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main(argv: list[str]) -> int:
    import xrec_bench.explainers.profile as profile
    from xrec_bench.datasets import load_dataset, make_split
    from xrec_bench.explainers import Request, get_explainer
    from xrec_bench.explainers.targets import choose_targets
    from xrec_bench.models import fit_or_load

    names = argv[0].split(",")
    n_users = int(argv[1]) if len(argv) > 1 else 20
    profile.time.perf_counter = time.process_time  # the model-only reference in CPU time too
    dataset = load_dataset("movielens-100k")
    split = make_split(dataset, "leave-last-out")
    model = fit_or_load(dataset, split, "bert-two-tower",
                        params={"train_layers": 1, "max_steps": 100, "device": "cpu"})
    cases = split.cases("test")
    histories = [np.asarray(cases.histories[i], dtype=np.int64) for i in range(n_users)]
    users = np.asarray(cases.users[:n_users])
    targets = choose_targets("top-recommendation", model, users, histories,
                             [cases.targets[i] for i in range(n_users)])
    requests = [Request(user=int(u), target=int(t), history=h, exclude=h)
                for u, t, h in zip(users, targets, histories, strict=True)]
    print(f"{'explainer':<28}{'cpu p50 ms':>12}{'model ms':>10}{'overhead':>10}")
    for name in names:
        base, _, kv = name.partition(":")
        params = dict([kv.split("=", 1)]) if kv else {}
        explainer = get_explainer(base, **params)
        explainer.explain(model, requests[:1], granularity="history", seed=0)  # warm-up
        batch = int(explainer.params["batch_size"]) if "batch_size" in explainer.params else None
        latencies, references, ratios = [], [], []
        for req in requests:
            task = model.feature_task("history", user=req.user, history=req.history, target=req.target)
            start = time.process_time()
            exp = explainer.explain_task(task, seed=0)
            latencies.append(time.process_time() - start)
            fresh = model.feature_task("history", user=req.user, history=req.history, target=req.target)
            references.append(profile.model_only_time(fresh, exp.n_evals, batch_size=batch or exp.n_evals,
                                                      gradients=explainer.needs_gradients))
            ratios.append(latencies[-1] / references[-1])
        print(f"{name:<28}{np.median(latencies) * 1e3:>12.2f}{np.median(references) * 1e3:>10.2f}"
              f"{np.median(ratios):>10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
