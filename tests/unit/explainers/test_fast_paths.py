"""The explainers that bypass parts of captum for speed give captum's values (float rounding aside),
on a non-linear task where any difference in the alphas, step sizes or masks would show."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import FeatureAblation, IntegratedGradients

from xrec_bench.explainers import get_explainer
from xrec_bench.explainers._common import full_and_empty, mask_forward
from xrec_bench.models.features import FeatureTask


class CurvedTask(FeatureTask):
    """``score = v . tanh(mask @ W) + (mask @ a)^2``: smooth, non-linear, rows independent."""

    granularity = "history"
    differentiable = True

    def __init__(self, n_features: int, seed: int) -> None:
        super().__init__(user=0, target=0, feature_ids=np.arange(n_features),
                         feature_labels=[f"f{j}" for j in range(n_features)])
        gen = torch.Generator().manual_seed(seed)
        self._w = torch.randn(n_features, 8, generator=gen)
        self._v = torch.randn(8, generator=gen)
        self._a = torch.randn(n_features, generator=gen) / n_features

    def _forward(self, mask):
        return torch.tanh(mask @ self._w) @ self._v + (mask @ self._a) ** 2

    def _all_scores(self, mask):
        return self._forward(mask)[:, None]


@pytest.mark.parametrize(("n_features", "seed"), [(1, 0), (5, 1), (23, 2)])
@pytest.mark.parametrize("n_steps", [1, 16, 40])
@pytest.mark.parametrize("batch_size", [7, 256])
def test_integrated_gradients_equals_captum(n_features, seed, n_steps, batch_size):
    task = CurvedTask(n_features, seed)
    ours = get_explainer("integrated-gradients", n_steps=n_steps, batch_size=batch_size)
    exp = ours.explain_task(task, seed=0)
    ones, zeros = full_and_empty(task)
    theirs = IntegratedGradients(mask_forward(task)).attribute(ones.requires_grad_(), baselines=zeros,
                                                                n_steps=n_steps)
    np.testing.assert_allclose(exp.scores, theirs.detach().double().numpy().reshape(-1), rtol=1e-5, atol=1e-6)
    assert exp.n_evals == n_steps


@pytest.mark.parametrize(("n_features", "seed"), [(1, 0), (5, 1), (23, 2)])
@pytest.mark.parametrize("batch_size", [3, 256])
def test_leave_one_out_equals_captum_feature_ablation(n_features, seed, batch_size):
    task = CurvedTask(n_features, seed)
    exp = get_explainer("leave-one-out", batch_size=batch_size).explain_task(task, seed=0)
    ones, zeros = full_and_empty(task)
    theirs = FeatureAblation(mask_forward(task)).attribute(ones, baselines=zeros)
    np.testing.assert_allclose(exp.scores, theirs.double().numpy().reshape(-1), rtol=1e-5, atol=1e-6)
    assert exp.n_evals == n_features + 1


@pytest.mark.parametrize(("n_features", "seed"), [(1, 0), (5, 1), (23, 2)])
@pytest.mark.parametrize(("n_samples", "batch_size"), [(1, 256), (7, 4), (12, 256)])
def test_shapley_sampling_equals_captum(n_features, seed, n_samples, batch_size):
    from captum.attr import ShapleyValueSampling

    from xrec_bench.explainers._common import seeded

    task = CurvedTask(n_features, seed)
    exp = get_explainer("shapley-sampling", n_samples=n_samples, batch_size=batch_size).explain_task(task, seed=5)
    ones, zeros = full_and_empty(task)
    # the explainer seeds torch from np.random.default_rng(seed) inside `seeded`, as here
    with seeded(np.random.default_rng(5)):
        theirs = ShapleyValueSampling(mask_forward(task)).attribute(
            ones, baselines=zeros, n_samples=n_samples, perturbations_per_eval=min(batch_size, n_features))
    np.testing.assert_allclose(exp.scores, theirs.double().numpy().reshape(-1), rtol=1e-5, atol=1e-6)
    assert exp.n_evals == 1 + n_samples * n_features


@pytest.mark.parametrize(("n_features", "seed"), [(2, 0), (5, 1), (23, 2)])
@pytest.mark.parametrize(("n_samples", "batch_size"), [(2, 256), (9, 4), (64, 256)])
def test_kernel_shap_equals_captum(n_features, seed, n_samples, batch_size):
    from captum.attr import KernelShap

    from xrec_bench.explainers._common import seeded

    task = CurvedTask(n_features, seed)
    exp = get_explainer("kernel-shap", n_samples=n_samples, batch_size=batch_size,
                        draws="captum").explain_task(task, seed=5)
    ones, zeros = full_and_empty(task)
    with seeded(np.random.default_rng(5)):
        theirs = KernelShap(mask_forward(task)).attribute(
            ones, baselines=zeros, n_samples=n_samples, perturbations_per_eval=batch_size)
    np.testing.assert_allclose(exp.scores, theirs.double().numpy().reshape(-1), rtol=1e-4, atol=1e-5)
    assert exp.n_evals == n_samples


@pytest.mark.parametrize(("n_features", "seed"), [(1, 0), (5, 1), (23, 2)])
@pytest.mark.parametrize(("n_samples", "stdevs"), [(1, 0.0), (16, 0.0), (9, 0.3)])
def test_gradient_shap_equals_captum(n_features, seed, n_samples, stdevs):
    from captum.attr import GradientShap

    from xrec_bench.explainers._common import seeded

    task = CurvedTask(n_features, seed)
    exp = get_explainer("gradient-shap", n_samples=n_samples, stdevs=stdevs).explain_task(task, seed=5)
    ones, zeros = full_and_empty(task)
    with seeded(np.random.default_rng(5)):
        theirs = GradientShap(mask_forward(task)).attribute(
            ones.requires_grad_(), baselines=zeros, n_samples=n_samples, stdevs=stdevs)
    np.testing.assert_allclose(exp.scores, theirs.detach().double().numpy().reshape(-1), rtol=1e-5, atol=1e-6)
    assert exp.n_evals == n_samples


@pytest.mark.parametrize(("n_features", "seed"), [(1, 0), (23, 2)])
def test_saliency_and_input_x_gradient_equal_captum(n_features, seed):
    from captum.attr import InputXGradient, Saliency

    task = CurvedTask(n_features, seed)
    ones, _ = full_and_empty(task)
    sal = get_explainer("saliency").explain_task(task, seed=0).scores
    ixg = get_explainer("input-x-gradient").explain_task(task, seed=0).scores
    theirs_sal = Saliency(mask_forward(task)).attribute(ones.clone().requires_grad_(), abs=True)
    theirs_ixg = InputXGradient(mask_forward(task)).attribute(ones.clone().requires_grad_())
    np.testing.assert_allclose(sal, theirs_sal.detach().double().numpy().reshape(-1), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ixg, theirs_ixg.detach().double().numpy().reshape(-1), rtol=1e-6, atol=1e-7)


def test_kernel_shap_batched_draws_estimate_the_same_shapley_values():
    from xrec_bench.explainers.exact_shapley import coalitions, shapley_matrix

    task = CurvedTask(6, 3)
    masks = coalitions(6)
    exact = task.forward(masks).double().numpy() @ shapley_matrix(masks)
    for draws in ("captum", "batched"):
        exp = get_explainer("kernel-shap", n_samples=4000, draws=draws).explain_task(task, seed=1)
        np.testing.assert_allclose(exp.scores, exact, atol=0.05 * np.abs(exact).max())
    with pytest.raises(ValueError, match="draws"):
        get_explainer("kernel-shap", draws="fast")
