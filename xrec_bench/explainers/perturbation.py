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
from captum.attr import FeatureAblation, KernelShap, ShapleyValueSampling

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
        svs = ShapleyValueSampling(mask_forward(task))
        return svs.attribute(
            ones,
            baselines=zeros,
            n_samples=self.params["n_samples"],
            perturbations_per_eval=min(self._per_eval(task), task.n_features),
        )


class KernelShapExplainer(_MaskPerturbationExplainer):
    """KernelSHAP: a Shapley-kernel-weighted linear fit to ``n_samples`` random coalitions (captum)."""

    name = "kernel-shap"
    stochastic = True
    defaults = {"n_samples": 200, "batch_size": DEFAULT_BATCH_SIZE}

    def _run(self, task, ones, zeros):
        if task.n_features == 1:
            # captum's coalition-size distribution is undefined for one feature (0/0); the Shapley
            # value of a lone feature is exactly f(x) - f(baseline), which is what ablation gives
            return FeatureAblation(mask_forward(task)).attribute(ones, baselines=zeros)
        ks = KernelShap(mask_forward(task))
        return ks.attribute(
            ones,
            baselines=zeros,
            n_samples=self.params["n_samples"],
            perturbations_per_eval=self._per_eval(task),
        )
