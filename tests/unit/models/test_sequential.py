"""The SASRec-style model: removing a history item (weight 0) equals deleting it from the input, at
every position, for the target and for every item; weights between 0 and 1 are smooth; explainers
run at both granularities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xrec_bench.explainers import Request, get_explainer
from xrec_bench.models import get_model

FAST = {"max_epochs": 2, "dim": 16, "n_heads": 2, "batch_size": 8}


@pytest.fixture(scope="module")
def sasrec(tiny, tiny_bert):
    ds, split = tiny
    model = get_model("sasrec", encoder=tiny_bert, max_history=6, **FAST).fit(ds, split, seed=0)
    with torch.no_grad():  # make positions matter, so that a shifted position would show
        model.head_.position.normal_(std=1.0, generator=torch.Generator().manual_seed(0))
    return model


@pytest.fixture()
def case(sasrec, tiny):
    cases = tiny[1].cases("test")
    hist = cases.histories[1]
    target = int(sasrec.recommend(cases.users[:1], [hist], 1, exclude=[hist])[0, 0])
    return int(cases.users[1]), hist, target


def test_removal_equals_deletion_from_the_sequence(sasrec, case):
    user, hist, target = case
    task = sasrec.feature_task("history", user=user, history=hist, target=target)
    assert task.n_features == min(len(hist), 6) >= 3
    used = hist[-6:]
    for removed in [(0,), (task.n_features - 1,), (1, 2), tuple(range(task.n_features - 1))]:
        mask = task.full_mask()
        mask[0, list(removed)] = 0.0
        shorter = np.delete(used, list(removed))
        expected = sasrec.score(np.array([user]), [shorter])[0]
        assert task.forward(mask).item() == pytest.approx(float(expected[target]), abs=1e-6)
        np.testing.assert_allclose(task.all_scores(mask)[0].numpy(), expected, atol=1e-6)


def test_everything_removed_is_the_empty_history(sasrec, case):
    user, hist, target = case
    task = sasrec.feature_task("history", user=user, history=hist, target=target)
    empty = sasrec.score(np.array([user]), [np.array([], dtype=np.int64)])[0]
    assert task.forward(torch.zeros(1, task.n_features)).item() == pytest.approx(float(empty[target]), abs=1e-6)


def test_soft_weights_are_smooth_and_have_gradients(sasrec, case):
    user, hist, target = case
    task = sasrec.feature_task("history", user=user, history=hist, target=target)
    mask = torch.full((1, task.n_features), 0.5, requires_grad=True)
    task.forward(mask).sum().backward()
    assert torch.isfinite(mask.grad).all() and mask.grad.abs().sum() > 0
    near = task.full_mask()
    near[0, 0] = 1 - 1e-4
    assert task.forward(near).item() == pytest.approx(task.forward(task.full_mask()).item(), abs=1e-3)


def test_attention_is_a_distribution_over_the_history(sasrec, case):
    user, hist, target = case
    att = sasrec.feature_task("history", user=user, history=hist, target=target).attention()
    assert att.shape == (min(len(hist), 6),) and (att >= 0).all() and att.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("granularity,name", [("history", "integrated-gradients"), ("history", "attention"),
                                              ("history", "kernel-shap"), ("tokens", "leave-one-out"),
                                              ("tokens", "integrated-gradients")])
def test_explainers_run(sasrec, case, granularity, name):
    user, hist, target = case
    out = get_explainer(name).explain(sasrec, [Request(user, target, hist)], granularity=granularity, seed=0)
    assert out[0].ok, out[0].reason
