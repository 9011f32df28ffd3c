"""Explainers: one protocol (:mod:`xrec_bench.explainers.base`), one method family per module.

Every built-in method is registered here lazily (``"module:Class"``), so that captum and lime are
imported only when a method that needs them is used.
"""

from __future__ import annotations

from xrec_bench.explainers.base import (
    EXPLAINERS,
    Explainer,
    Explanation,
    ExplanationError,
    Request,
    get_explainer,
)

__all__ = ["EXPLAINERS", "Explainer", "Explanation", "ExplanationError", "Request", "get_explainer"]

_BUILTIN = {
    "integrated-gradients": "gradient:IntegratedGradientsExplainer",
    "saliency": "gradient:SaliencyExplainer",
    "input-x-gradient": "gradient:InputXGradientExplainer",
    "gradient-shap": "gradient:GradientShapExplainer",
    "leave-one-out": "perturbation:LeaveOneOutExplainer",
    "shapley-sampling": "perturbation:ShapleySamplingExplainer",
    "kernel-shap": "perturbation:KernelShapExplainer",
    "lime": "lime_explainer:LimeExplainer",
    "attention": "intrinsic:AttentionExplainer",
    "similarity": "recsys:SimilarityExplainer",
    "cooccurrence": "recsys:CooccurrenceExplainer",
    "random": "random_baseline:RandomExplainer",
    "exact-shapley": "exact_shapley:ExactShapleyExplainer",
}

for _name, _target in _BUILTIN.items():
    if not EXPLAINERS.is_registered(_name):
        EXPLAINERS.register(_name, f"{__name__}.{_target}")
