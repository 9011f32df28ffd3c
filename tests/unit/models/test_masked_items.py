"""Token tasks score masks through the shared, deduplicated, compacted path: the same values as the
version-2 path (every row encoded at full width) within 1e-5, for every explainer and metric."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrec_bench.models import get_model
from xrec_bench.models.masked_items import ItemVectorCache, masked_item_vectors
from xrec_bench.models.tasks import _v2_token_path

TEXT_MODELS = ("bert-two-tower", "zero-shot-text")
#: documented tolerance of the new path against version 2 (float rounding of other matmul shapes)
ATOL = 1e-5


@pytest.fixture(scope="module")
def models(tiny, tiny_bert):
    ds, split = tiny
    fast = {"bert-two-tower": {"max_epochs": 1, "train_layers": 1, "batch_size": 16, "device": "cpu"}}
    return {n: get_model(n, encoder=tiny_bert, **fast.get(n, {})).fit(ds, split, seed=0) for n in TEXT_MODELS}


def _tasks(model, split, n=3):
    cases = split.cases("test")
    for i in range(n):
        user, hist, target = int(cases.users[i]), cases.histories[i], int(cases.targets[i][0])
        yield model.feature_task("tokens", user=user, history=hist, target=target)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_forward_equals_v2_path(models, tiny, name):
    model = models[name]
    assert model._masked_items()[1], "the tiny BERT has absolute positions: the compact path runs"
    rng = np.random.default_rng(0)
    for task in _tasks(model, tiny[1]):
        masks = (rng.random((40, task.n_features)) < 0.5).astype(np.float32)
        masks[:5] = masks[5]  # duplicates
        masks[6] = 0.0
        masks[7] = 1.0
        new = task.forward(masks).numpy()
        with _v2_token_path():
            old = task.forward(masks).numpy()
        np.testing.assert_allclose(new, old, rtol=0, atol=ATOL)
        assert task.n_evals == 80  # evaluations are counted per mask row either way
        new_rank = task.score_and_rank(masks)[1]
        with _v2_token_path():
            old_rank = task.score_and_rank(masks)[1]
        assert np.abs(new_rank - old_rank).max() <= 1


def test_vectors_are_reused_only_inside_a_reuse_scope(models, tiny):
    model = models["bert-two-tower"]
    assert model._masked_items()[0] is None  # outside a scope: nothing is reused across calls
    with model.reuse_scope():
        cache = model._masked_items()[0]
        first = next(_tasks(model, tiny[1], 1))
        first.forward(np.ones((3, first.n_features), np.float32))
        size = len(cache)
        again = next(_tasks(model, tiny[1], 1))
        hits = cache.hits
        again.forward(np.ones((1, again.n_features), np.float32))
        assert cache.hits == hits + 1 and len(cache) == size
        rand = model.randomized(seed=1)
        assert rand._masked_items()[0] is None  # the randomised copy never sees the trained weights' vectors
        with model.reuse_scope():
            assert model._masked_items()[0] is not cache  # a nested scope starts empty
        assert model._masked_items()[0] is cache
    assert model._masked_items()[0] is None


def test_a_value_does_not_depend_on_what_ran_before(models, tiny):
    """Explanations and metrics of one request give the same values whether or not other requests ran
    first in the same process (whole, sharded and resumed runs agree bit for bit)."""
    from xrec_bench.explainers import get_explainer
    from xrec_bench.explainers.base import Request
    from xrec_bench.metrics import evaluate_explainer

    model = models["bert-two-tower"]
    cases = tiny[1].cases("test")
    reqs = [Request(int(u), int(t[0]), h) for u, h, t in zip(cases.users[:3], cases.histories[:3], cases.targets[:3],
                                                             strict=True)]
    metrics = ["deletion_auc", "insertion_auc", "sufficiency", "comprehensiveness", "infidelity", "pos@10"]
    lime = get_explainer("lime", n_samples=20)
    alone = evaluate_explainer(model, lime, reqs[2:], granularity="tokens", seed=0, metrics=metrics)
    after = evaluate_explainer(model, lime, reqs, granularity="tokens", seed=0, metrics=metrics)
    assert set(alone.per_user) >= set(metrics)
    for name, values in alone.per_user.items():
        if name != "wall_time_s":  # measured
            np.testing.assert_array_equal(values, after.per_user[name][2:], err_msg=name)


def test_compact_and_full_width_encodings_agree(models, tiny):
    model = models["zero-shot-text"]
    task = next(_tasks(model, tiny[1], 1))
    rng = np.random.default_rng(1)
    tok = torch.as_tensor(rng.random((30, task.input_ids.shape[1])) < 0.6).long()
    tok[:, 0] = 1
    compact = masked_item_vectors(model._item_fn, task.input_ids, tok, compact=True, batch_size=7)
    full = masked_item_vectors(model._item_fn, task.input_ids, tok, compact=False)
    with torch.no_grad():
        direct = model._item_fn(task.input_ids.expand(30, -1), tok)
    torch.testing.assert_close(full, direct, rtol=0, atol=ATOL)
    torch.testing.assert_close(compact, direct, rtol=0, atol=ATOL)


def test_cache_is_bounded():
    cache = ItemVectorCache(max_entries=2)
    for i in range(3):
        cache.put((b"t", bytes([i])), torch.zeros(1))
    assert len(cache) == 2 and cache.get((b"t", b"\x00")) is None and cache.get((b"t", b"\x02")) is not None


@pytest.mark.parametrize(
    "explainer",
    ["leave-one-out", "kernel-shap", "lime", "exact-shapley", "integrated-gradients"],
)
def test_explanations_and_metrics_equal_v2_path(models, tiny, explainer):
    from xrec_bench.explainers import Request, get_explainer
    from xrec_bench.metrics import EvalConfig, evaluate_explainer

    model = models["bert-two-tower"]
    cases = tiny[1].cases("test")
    requests = [Request(user=int(cases.users[i]), target=int(cases.targets[i][0]), history=cases.histories[i])
                for i in range(2)]
    params = {"kernel-shap": {"n_samples": 32}, "lime": {"n_samples": 50}, "shapley-sampling": {"n_samples": 3},
              "integrated-gradients": {"n_steps": 8}, "gradient-shap": {"n_samples": 8}}.get(explainer, {})
    cfg = EvalConfig(stability_users=2, sanity_users=2, stability_seeds=2, infidelity_samples=4)

    def run():
        return evaluate_explainer(model, get_explainer(explainer, **params), requests, granularity="tokens",
                                  seed=3, config=cfg)

    from xrec_bench.metrics.stages import SHARED_PROBES

    new = run()
    with _v2_token_path(), SHARED_PROBES.disabled():  # the v2 path scores its own random reference
        old = run()
    for a, b in zip(new.explanations, old.explanations, strict=True):
        assert a.status == b.status and a.n_evals == b.n_evals
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=ATOL)
    assert new.per_user.keys() == old.per_user.keys()
    for key, values in new.per_user.items():
        if key in ("wall_time_s", "peak_rss_mb") or "time" in key or "rss" in key:
            continue
        np.testing.assert_allclose(values, old.per_user[key], rtol=1e-4, atol=1e-4, equal_nan=True, err_msg=key)
