"""Known answers: the toy model is linear in the mask; a quadratic task has closed-form Shapley values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.unit.explainers.conftest import make, request
from xrec_bench.explainers.exact_shapley import coalitions, shapley_matrix
from xrec_bench.models.features import FeatureTask

HISTORY = [1, 2, 3, 4, 7, 9, 12, 20]
TARGET = 5


def _history_truth(toy):
    return toy.A[HISTORY, TARGET]


def _token_truth(toy):
    emb = toy.embedding.weight.detach().numpy().astype(np.float64)
    return emb[toy.texts[TARGET]] @ toy.user_vec  # removal = the word's term leaves the sum


def _field_truth(toy):
    """Fields are consecutive word pairs: a field's exact effect is the sum of its words'."""
    words = _token_truth(toy)
    return np.bincount(np.arange(len(words)) // 2, weights=words)


def _explain(name, toy, data, granularity, seed=0, **params):
    exp = make(name, data, **params).explain(
        toy, [request(HISTORY, TARGET)], granularity=granularity, seed=seed
    )[0]
    assert exp.ok, exp.reason
    return exp


EXACT_ON_LINEAR = {
    # every method whose attribution equals the linear coefficient exactly
    "history": ["leave-one-out", "exact-shapley", "integrated-gradients", "input-x-gradient", "gradient-shap",
                "shapley-sampling", "kernel-shap"],
    "tokens": ["leave-one-out", "exact-shapley", "input-x-gradient", "shapley-sampling", "kernel-shap"],
    "fields": ["leave-one-out", "exact-shapley", "integrated-gradients", "shapley-sampling", "kernel-shap"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "granularity"), [(n, g) for g, names in EXACT_ON_LINEAR.items() for n in names]
)
def test_linear_attribution_is_recovered(name, granularity, toy, data):
    truth = {"history": _history_truth, "tokens": _token_truth, "fields": _field_truth}[granularity](toy)
    exp = _explain(name, toy, data, granularity)
    np.testing.assert_allclose(exp.scores, truth, rtol=1e-4, atol=1e-4)


def test_integrated_gradients_on_tokens_starts_at_the_metrics_removal(toy, data):
    """Tokens: the path starts at every word out of the attention mask (the metrics' removal), not at
    [PAD] embeddings, so on the toy (linear in the mask) IG = E[id] . u per word, the exact effect."""
    emb = toy.embedding.weight.detach().numpy().astype(np.float64)
    truth = emb[toy.texts[TARGET]] @ toy.user_vec
    np.testing.assert_allclose(_explain("integrated-gradients", toy, data, "tokens").scores, truth, rtol=1e-4)
    pad_based = (emb[toy.texts[TARGET]] - emb[0]) @ toy.user_vec
    assert not np.allclose(truth, pad_based, rtol=1e-2)


def test_gradient_shap_on_tokens_matches_ig_on_a_linear_model(toy, data):
    ig = _explain("integrated-gradients", toy, data, "tokens").scores
    np.testing.assert_allclose(
        _explain("gradient-shap", toy, data, "tokens").scores, ig, rtol=1e-4, atol=1e-5
    )


def test_saliency_is_the_gradient_magnitude(toy, data):
    np.testing.assert_allclose(
        _explain("saliency", toy, data, "history").scores, np.abs(_history_truth(toy)), rtol=1e-5
    )
    per_word = np.linalg.norm(toy.user_vec)  # d score / d embedding = u for every word-piece
    np.testing.assert_allclose(_explain("saliency", toy, data, "tokens").scores, per_word, rtol=1e-5)


@pytest.mark.parametrize("granularity", ["history", "tokens"])
def test_lime_ranks_like_the_truth(granularity, toy, data):
    truth = {"history": _history_truth, "tokens": _token_truth}[granularity](toy)
    scores = _explain("lime", toy, data, granularity, n_samples=300).scores
    assert np.corrcoef(scores, truth)[0, 1] > 0.95


def test_costs_are_counted(toy, data):
    f = len(HISTORY)
    assert _explain("leave-one-out", toy, data, "history").n_evals == f + 1
    assert _explain("exact-shapley", toy, data, "history").n_evals == 2**f
    assert _explain("lime", toy, data, "history", n_samples=100).n_evals == 100
    assert _explain("random", toy, data, "history").n_evals == 0
    assert _explain("integrated-gradients", toy, data, "history", n_steps=8).n_evals == 8


# -- a non-linear task: v(S) = a . m + m' B m, Shapley_j = a_j + B_jj + sum_{k != j} (B_jk + B_kj) / 2 --


class QuadraticTask(FeatureTask):
    granularity = "history"
    differentiable = True

    def __init__(self, n: int = 6, seed: int = 0):
        super().__init__(
            user=0, target=0, feature_ids=np.arange(n), feature_labels=[f"f{j}" for j in range(n)]
        )
        g = np.random.default_rng(seed)
        self.a = torch.as_tensor(g.normal(size=n), dtype=torch.float32)
        self.b = torch.as_tensor(g.normal(size=(n, n)), dtype=torch.float32)

    def _forward(self, mask):
        return mask @ self.a + ((mask @ self.b) * mask).sum(dim=1)

    def _all_scores(self, mask):
        return self._forward(mask)[:, None]

    def shapley(self) -> np.ndarray:
        a, b = self.a.double().numpy(), self.b.double().numpy()
        sym = (b + b.T) / 2
        return a + np.diag(b) + sym.sum(axis=1) - np.diag(sym)


def test_exact_shapley_matches_the_closed_form():
    task = QuadraticTask()
    exp = make("exact-shapley", (None, None)).explain_task(task, seed=0)
    np.testing.assert_allclose(exp.scores, task.shapley(), rtol=1e-5, atol=1e-5)
    # efficiency: the attributions add up to f(all) - f(none)
    full, empty = task.forward(torch.ones(1, 6)).item(), task.forward(torch.zeros(1, 6)).item()
    assert exp.scores.sum() == pytest.approx(full - empty, abs=1e-4)


def test_shapley_matrix_weights_sum_to_one_per_feature():
    w = shapley_matrix(coalitions(5))
    np.testing.assert_allclose(np.clip(w, 0, None).sum(axis=0), 1.0)
    np.testing.assert_allclose(np.clip(w, None, 0).sum(axis=0), -1.0)


@pytest.mark.parametrize(
    ("name", "n_samples", "tol"), [("shapley-sampling", 400, 0.15), ("kernel-shap", 2000, 0.15)]
)
def test_sampled_shapley_is_close_to_exact(name, n_samples, tol):
    task = QuadraticTask(seed=3)
    exact = task.shapley()
    scores = make(name, (None, None), n_samples=n_samples).explain_task(task, seed=0).scores
    assert np.max(np.abs(scores - exact)) < tol * np.max(np.abs(exact))
    assert np.argmax(scores) == np.argmax(exact)
