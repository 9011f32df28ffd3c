"""Latency of every explainer at both granularities (pytest-benchmark), with its cost profile.

    python -m pytest benchmarks/test_explainers.py --benchmark-only            # toy model
    XREC_BENCH_REAL=1 python -m pytest benchmarks/test_explainers.py ...       # + bert-two-tower on synthetic

Each benchmark times one ``explain`` call over a small batch of requests and stores in
``extra_info`` what :func:`xrec_bench.explainers.profile.profile_explainer` measures: model
evaluations per explanation (exact), median latency, and the overhead ratio (explainer wall time /
the same number of batched model evaluations alone). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.helpers.toy import ToyModel
from xrec_bench.explainers import EXPLAINERS, Request, get_explainer
from xrec_bench.explainers.profile import profile_explainer
from xrec_bench.models.base import GRANULARITIES

CELLS = [(name, g) for name in EXPLAINERS.names() for g in GRANULARITIES]
REAL = os.environ.get("XREC_BENCH_REAL") == "1"


@pytest.fixture(scope="module")
def toy_setup():
    from tests.unit.explainers.conftest import tiny_data

    model = ToyModel(n_items=80)
    rng = np.random.default_rng(0)
    # 10-item histories: exact Shapley stays at 1024 coalitions
    requests = [Request(user=u, target=79, history=rng.choice(79, 10, replace=False)) for u in range(8)]
    return model, requests, tiny_data()


@pytest.fixture(scope="module")
def real_setup():
    if not REAL:
        pytest.skip("set XREC_BENCH_REAL=1 to benchmark the bert-two-tower on the synthetic dataset")
    from xrec_bench.datasets import load_dataset, make_split
    from xrec_bench.models import fit_or_load

    dataset = load_dataset("synthetic")
    split = make_split(dataset, "leave-last-out")
    model = fit_or_load(dataset, split, "bert-two-tower", progress=False)
    cases = split.cases("test")
    requests = [
        Request(user=int(u), target=int(t[0]), history=np.asarray(h), exclude=np.asarray(h))
        for u, h, t in zip(cases.users[:5], cases.histories[:5], cases.targets[:5], strict=True)
    ]
    return model, requests, (dataset, split)


def _bench(benchmark, setup, name, granularity):
    model, requests, data = setup
    explainer = get_explainer(name).fit(*data)
    ok, reason = explainer.supports(granularity)
    if not ok:
        pytest.skip(reason)
    row = profile_explainer(model, explainer, requests, granularity)
    benchmark.extra_info.update(row.as_dict())
    benchmark.pedantic(
        explainer.explain,
        args=(model, requests),
        kwargs={"granularity": granularity, "seed": 0},
        rounds=3,
        iterations=1,
    )


@pytest.mark.parametrize(("name", "granularity"), CELLS)
def test_toy(benchmark, toy_setup, name, granularity):
    _bench(benchmark, toy_setup, name, granularity)


@pytest.mark.parametrize(("name", "granularity"), CELLS)
def test_bert_two_tower_synthetic(benchmark, real_setup, name, granularity):
    _bench(benchmark, real_setup, name, granularity)
