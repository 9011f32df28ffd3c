"""Perturbation attributions (captum) over the binary feature mask: leave-one-out, Shapley sampling, KernelSHAP.

The input is the all-ones mask ``[1, F]`` and the baseline all zeros, so every perturbation captum
makes is a set of removed features in the model's own sense (history items absent from the user
tower; words dropped from the text encoder's attention). They are model-agnostic and work at both
granularities; the model is scored ``batch_size`` masks at a time (captum's ``perturbations_per_eval``).
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch
from captum._utils.models.linear_model import SkLearnLinearRegression
from captum.attr import FeatureAblation
from torch.distributions.categorical import Categorical

from xrec_bench.explainers._common import (
    DEFAULT_BATCH_SIZE,
    ConfiguredExplainer,
    full_and_empty,
    mask_forward,
    score_masks,
    seeded,
)
from xrec_bench.models.features import FeatureTask


class _MaskPerturbationExplainer(ConfiguredExplainer):
    defaults = {"batch_size": DEFAULT_BATCH_SIZE}

    def _attribute(self, task: FeatureTask, rng: np.random.Generator) -> np.ndarray:
        ones, zeros = full_and_empty(task)
        with seeded(rng):
            attr = self._run(task, ones, zeros)
        return attr.detach().reshape(-1).double().cpu().numpy()

    @abstractmethod
    def _run(self, task, ones, zeros):
        """The method itself, in the subclass."""

    def _per_eval(self, task: FeatureTask) -> int:
        return self.params["batch_size"]


class LeaveOneOutExplainer(_MaskPerturbationExplainer):
    """Score drop when one feature alone is removed (captum ``FeatureAblation``): F + 1 evaluations."""

    name = "leave-one-out"

    def _run(self, task, ones, zeros):
        # what captum's FeatureAblation computes (f(x) - f(x without j)), with the F + 1 masks built as
        # one array and scored in one batch: captum builds them one feature at a time in Python,
        # which tripled the time of a history explanation (the forward takes well under 1 ms there)
        n = task.n_features
        masks = np.vstack([np.ones((1, n)), 1.0 - np.eye(n)]).astype(np.float32)
        scores = torch.as_tensor(score_masks(task, masks, self._per_eval(task)), dtype=torch.float32)
        return (scores[0] - scores[1:]).reshape(1, n)


class ShapleySamplingExplainer(_MaskPerturbationExplainer):
    """Shapley values estimated from ``n_samples`` random feature orderings (captum)."""

    name = "shapley-sampling"
    stochastic = True
    defaults = {"n_samples": 25, "batch_size": DEFAULT_BATCH_SIZE}

    def _run(self, task, ones, zeros):
        return shapley_value_sampling(task, self.params["n_samples"], self._per_eval(task))


def shapley_value_sampling(task: FeatureTask, n_samples: int, batch_size: int) -> torch.Tensor:
    """captum's ``ShapleyValueSampling`` on the feature mask, with every permutation's prefix masks
    built as one array and scored ``batch_size`` rows at a time.

    The same draws as captum (one ``torch.randperm(F)`` per sample, in order), the same model
    evaluations (the all-removed baseline, then the ``F`` prefixes of each permutation) and the same
    float32 differences and average; captum builds and scores the prefixes one feature at a time in
    Python, which tripled the time of a history explanation. Equal to captum's values up to float
    rounding (tests/unit/explainers/test_fast_paths.py).
    """
    n = task.n_features
    perms = torch.stack([torch.randperm(n) for _ in range(n_samples)])  # [S, F], captum's generator
    # prefix i of a permutation holds its first i + 1 features: position of each feature <= i
    position = torch.empty_like(perms)
    position.scatter_(1, perms, torch.arange(n).expand(n_samples, -1))
    prefixes = (position[:, None, :] <= torch.arange(n)[None, :, None]).to(torch.float32)  # [S, F, F]
    masks = np.vstack([np.zeros((1, n), np.float32), prefixes.reshape(-1, n).numpy()])
    scores = torch.as_tensor(score_masks(task, masks, batch_size), dtype=torch.float32)
    values = torch.cat([scores[:1].expand(n_samples, 1), scores[1:].reshape(n_samples, n)], dim=1)
    gains = values[:, 1:] - values[:, :-1]  # [S, F]: the gain of adding perms[:, i]
    total = torch.zeros(n, dtype=torch.float32).index_add_(0, perms.reshape(-1), gains.reshape(-1))
    return (total / n_samples).reshape(1, n)


class KernelShapExplainer(_MaskPerturbationExplainer):
    """KernelSHAP: a Shapley-kernel-weighted linear fit to ``n_samples`` random coalitions (captum)."""

    name = "kernel-shap"
    stochastic = True
    #: draws = "batched" (the default since version 2): captum's coalition distribution drawn in two
    #: calls, about 1.4x the model-only time of a history explanation instead of 2.0x (benchmarks/SPEED.md);
    #: "captum": captum's random stream, one coalition at a time, equal to captum's ``KernelShap`` values
    #: (the default of version 1, and of quick v4 and gate v3)
    version = "2"
    defaults = {"n_samples": 200, "batch_size": DEFAULT_BATCH_SIZE, "draws": "batched"}

    def __init__(self, **params):
        super().__init__(**params)
        if self.params["draws"] not in DRAWS:
            raise ValueError(f"The 'draws' parameter of kernel-shap must be one of {DRAWS}. "
                             f"Got {self.params['draws']!r} instead.")

    def _run(self, task, ones, zeros):
        if task.n_features == 1:
            # captum's coalition-size distribution is undefined for one feature (0/0); the Shapley
            # value of a lone feature is exactly f(x) - f(baseline), which is what ablation gives
            return FeatureAblation(mask_forward(task)).attribute(ones, baselines=zeros)
        return kernel_shap(task, self.params["n_samples"], self._per_eval(task), draws=self.params["draws"])


#: captum's KernelShap weight of the all-present and all-removed coalitions (``inf_weight``)
_ENDPOINT_WEIGHT = 1_000_000.0


DRAWS = ("captum", "batched")


def kernel_shap(task: FeatureTask, n_samples: int, batch_size: int, *, draws: str = "captum") -> torch.Tensor:
    """captum's ``KernelShap`` on the feature mask (F >= 2), its per-sample Python work vectorised.

    The same coalitions as captum's ``kernel_shap_perturb_generator`` (the full and the empty mask,
    then per sample one draw of the coalition size from the Shapley-kernel distribution and one
    ``torch.randn(1, F)`` whose ``k`` largest entries are kept: the same random calls in the same
    order), the same weights (captum's ``inf_weight`` for the two end points, 1 otherwise), scored
    ``batch_size`` rows at a time, fitted with captum's own ``SkLearnLinearRegression``. captum makes,
    weights and converts every sample one at a time in Python, six times the model's own time on a
    history explanation. Equal to captum's values up to float rounding
    (tests/unit/explainers/test_fast_paths.py).
    """
    n = task.n_features
    sizes = torch.arange(n, dtype=torch.float)
    probs = torch.tensor(n - 1) / (sizes * (n - sizes))
    probs[0] = 0.0
    probs_2d = Categorical(probs).probs.reshape(-1, n)  # normalised, as Categorical.sample() draws
    n_random = max(n_samples - 2, 0)
    if draws == "batched" or n_random == 0:
        counts = torch.multinomial(probs_2d, n_random, True).reshape(-1) if n_random else torch.zeros(0).long()
        noise = torch.randn(n_random, n)
    else:  # interleaved draws: the same random stream as captum's generator
        drawn = [(torch.multinomial(probs_2d, 1, True), torch.randn(1, n)) for _ in range(n_random)]
        counts = torch.cat([c for c, _ in drawn]).reshape(-1)
        noise = torch.cat([r for _, r in drawn])
    # captum keeps the entries above the (F - k)-th smallest value: the k largest
    threshold = torch.sort(noise, dim=1).values.gather(1, (n - counts - 1).clamp_min(0)[:, None])
    random_rows = (noise > threshold).to(torch.float32)
    rows = torch.cat([torch.ones(1, n), torch.zeros(1, n), random_rows])[:n_samples]
    kept = rows.sum(dim=1)
    weights = torch.where((kept == 0) | (kept == n), _ENDPOINT_WEIGHT, 1.0).to(torch.float32)
    scores = torch.as_tensor(score_masks(task, rows.numpy(), batch_size), dtype=torch.float32)
    surrogate = SkLearnLinearRegression()
    # captum wraps the samples in a DataLoader that its trainer exhausts into one batch; the batch
    # itself skips collating every sample one by one (the same arrays reach sklearn)
    surrogate.fit([(rows, scores, weights)])
    return surrogate.representation().reshape(1, n)
