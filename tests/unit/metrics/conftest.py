"""Tiny explainers with known behaviour, and requests on the linear ToyModel, for metric tests."""

import numpy as np
import pytest
import torch

from tests.helpers.toy import ToyModel
from xrec_bench.explainers.base import Explainer, Request


class ExactLinear(Explainer):
    """The exact attribution of a model linear in the mask: f(e_j) - f(0) (F + 1 evaluations)."""

    name = "test-exact"
    stochastic = False

    def _attribute(self, task, rng):
        f = task.n_features
        masks = torch.cat([torch.zeros(1, f), torch.eye(f)])
        with torch.no_grad():
            out = task.forward(masks).double().numpy()
        return out[1:] - out[0]


class RandomScores(Explainer):
    name = "test-random"
    stochastic = True

    def _attribute(self, task, rng):
        return rng.random(task.n_features)


class Position(Explainer):
    """Ignores the model: earlier features are 'more important'."""

    name = "test-position"

    def _attribute(self, task, rng):
        return -np.arange(task.n_features, dtype=np.float64)


@pytest.fixture(scope="session")
def toy():
    return ToyModel(n_items=30, vocab=50, dim=8, seed=0)


def make_requests(model, n, *, length=6, seed=0, positive=True):
    """``n`` requests whose full-history target score is > 1 and above half the sd of all items' scores
    (a target the history clearly supports)."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        items = rng.permutation(model.n_items)
        hist, target = items[:length], int(items[length])
        span = model.A[hist, target].sum()
        if positive and (span <= 1.0 or span < 0.5 * model.A[hist].sum(axis=0).std(ddof=1)):
            continue
        out.append(Request(user=len(out), target=target, history=hist))
    return out


@pytest.fixture(scope="session")
def requests(toy):
    return make_requests(toy, 12)
