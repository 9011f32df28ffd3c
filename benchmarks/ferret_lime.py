"""LIME at token level, 500 samples, on ten MovieLens-100K titles: xrec-bench against ferret.

    XREC_BENCH_DATA=... python benchmarks/ferret_lime.py [--threads 2] [--samples 500] [--texts 10]

This project: ``lime`` with ``n_samples=500`` explains the token task of the quick suite's MovieLens-100K
model (all-MiniLM-L6-v2 two-tower; trained on first use, then cached) for ten test users whose
top recommendations are ten distinct titles; the model's cache of masked item vectors is emptied
before every explanation, so that each one pays for its own model evaluations.

ferret (``pip install --no-deps ferret-xai``; skipped when it is not installed): its ``LIMEExplainer``
with the same number of samples on the same ten titles, on all-MiniLM-L6-v2 with a (random) two-label
classification head, at its default batch of 8 and at a batch of 256. ferret's top-level package imports
its benchmark and dataset modules (seaborn, datasets); only its explainers are loaded here, without
that ``__init__``.

Prints seconds per explanation (median over the texts) for both, and exits 1 if this project is
slower than ferret's faster setting.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
import types
from pathlib import Path


def _ferret_lime():
    """ferret's LIMEExplainer class, or None when ferret is not installed."""
    spec = importlib.util.find_spec("ferret")
    if spec is None or not spec.submodule_search_locations:
        return None
    if "ferret" not in sys.modules:
        package = types.ModuleType("ferret")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["ferret"] = package
    from ferret.explainers.lime import LIMEExplainer

    return LIMEExplainer


def _requests(n_texts: int):
    from xrec_bench.harness.stages import RealStages
    from xrec_bench.harness.suite import load_suite

    suite = load_suite("quick")
    spec = next(d for d in suite.datasets if d.name == "movielens-100k")
    stages = RealStages()
    data = stages.load(spec)
    trained = stages.train(data, suite.models[0], seed=suite.seeds[0])
    pool = stages.requests(data, trained, "tokens", n_users=min(200, len(data.split.cases("test"))),
                           seed=suite.seed, targets=suite.targets_for(spec))
    chosen, seen = [], set()
    for req in pool:
        if req.target not in seen:
            seen.add(req.target)
            chosen.append(req)
        if len(chosen) == n_texts:
            break
    return trained.model, chosen


def time_xrec(model, requests, n_samples: int) -> list[float]:
    from xrec_bench.explainers import get_explainer

    explainer = get_explainer("lime", n_samples=n_samples)
    explainer.explain(model, requests[:1], granularity="tokens", seed=0)  # warm-up
    times = []
    for req in requests:
        # cold: outside a reuse scope every explanation pays for its own model evaluations
        start = time.perf_counter()
        exp = explainer.explain(model, [req], granularity="tokens", seed=0)[0]
        times.append(time.perf_counter() - start)
        if not exp.ok:
            raise RuntimeError(f"lime skipped user {req.user}: {exp.reason}")
    return times


def time_ferret(lime_cls, texts: list[str], n_samples: int, batch_size: int) -> list[float]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from xrec_bench.models.encoder import default_encoder_path

    path = default_encoder_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).eval()
    explainer = lime_cls(model, tokenizer)
    explainer(texts[0], target=1, num_samples=n_samples, batch_size=batch_size)  # warm-up
    times = []
    for text in texts:
        start = time.perf_counter()
        explainer(text, target=1, num_samples=n_samples, batch_size=batch_size)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--texts", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    model, requests = _requests(args.texts)
    texts = [model.item_texts_[r.target] for r in requests]
    n_pieces = [len(model.encoder_.tokenizer(t)["input_ids"]) - 2 for t in texts]
    print(f"{len(texts)} titles, {statistics.mean(n_pieces):.1f} word-pieces on average, "
          f"{args.samples} LIME samples, {args.threads} threads")
    ours = statistics.median(time_xrec(model, requests, args.samples))
    print(f"xrec-bench lime:          {ours:.3f} s per explanation (median)")
    lime_cls = _ferret_lime()
    if lime_cls is None:
        print("ferret is not installed (pip install --no-deps ferret-xai): comparison skipped")
        return 0
    best = float("inf")
    for batch in (8, 256):
        theirs = statistics.median(time_ferret(lime_cls, texts, args.samples, batch))
        best = min(best, theirs)
        print(f"ferret LIME (batch {batch:>3}):  {theirs:.3f} s per explanation (median)")
    print(f"ratio ferret (best) / xrec-bench: {best / ours:.2f}")
    return 0 if ours <= best else 1


if __name__ == "__main__":
    raise SystemExit(main())
