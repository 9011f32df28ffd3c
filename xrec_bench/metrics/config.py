"""Parameters of the explanation metrics (what is measured, and how much it may cost).

One frozen value passed to :func:`xrec_bench.metrics.evaluate_explainer`; the defaults are the
benchmark's definitions, the ``*_users`` and ``*_samples`` fields are budgets that make the
expensive metrics (stability, sanity, infidelity) cheap to configure.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from xrec_bench.params import Param

#: what each option means and accepts (``xrec-bench metrics info NAME`` shows the ones a metric reads)
OPTION_HELP: dict[str, str] = {
    "fractions": "fractions of the features removed / added back along the curves (from 0 to 1)",
    "random_orders": "random removal orders per user for the *_minus_random areas (int >= 1)",
    "random_seed": "seed of those random orders (the same orders for every explainer)",
    "pos_neg_bins": "cumulative bins of the features for POS@K / NEG@K (int >= 1; LXR: 10)",
    "cutoffs": "the K of POS@K / NEG@K (ints >= 1)",
    "eraser_bins": "rationale sizes as fractions of the features, each in (0, 1]",
    "eraser_only_positive": "remove only features with a positive attribution (ferret's only_pos)",
    "infidelity_samples": "random perturbations per explanation (int >= 1)",
    "infidelity_drop": "probability that a feature is removed in a perturbation, in (0, 1)",
    "gt_ks": "the k of gt_precision@k (ints >= 1)",
    "gt_margin": "lead of the cause's leave-one-out drop, in sd of all items' scores, for a user to count (>= 0)",
    "gt_control_users": "covered requests re-explained on the randomised model (>= 0; None: all)",
    "jaccard_k": "top-k of the run-to-run Jaccard index (int >= 1)",
    "rerun": "which explainers are re-run for run-to-run stability: 'all' or 'stochastic'",
    "stability_users": "requests (the first ones) that get the stability metrics (int >= 1; None: all)",
    "stability_candidates": "low-importance features tried as input perturbations (int >= 1)",
    "stability_k": "top-k whose rank must hold for a perturbation to count (int >= 1)",
    "stability_seeds": "seeds averaged for stochastic explainers before input sensitivity (int >= 1)",
    "sanity_users": "requests (the first ones) re-explained on the randomised model (int >= 1; None: all)",
    "sanity_threshold": "mean |rho| above which the sanity check fails",
    "eps": "denominators below this are treated as zero (the value becomes NaN)",
}


def count_at(fraction: float, n_features: int) -> int:
    """How many features a fraction of ``n_features`` is: rounded half up (``floor(f * F + 0.5)``).

    Half up rather than Python's ``round`` (half to even) so that the count never depends on the
    parity of ``F``: 0.5 of 3 features is 2, 0.1 of 15 is 2.
    """
    return int(min(n_features, max(0, int(fraction * n_features + 0.5))))


@dataclass(frozen=True)
class EvalConfig:
    """What the metrics measure.

    Faithfulness curves: ``fractions`` of the features removed (deletion) or added back
    (insertion), converted to counts by :func:`count_at`; ``random_orders`` random removal orders
    (drawn from ``random_seed`` and the number of features only, so every explainer on one user
    meets the same ones) give each user's random reference for the ``*_minus_random`` areas.
    POS@K / NEG@K: ``pos_neg_bins`` cumulative bins of the history (LXR: 10), ``cutoffs`` are the K.
    ERASER: ``eraser_bins`` of the features, at least one feature per bin (``eraser_only_positive``
    removes only features with a positive attribution, ferret's ``only_pos`` option; off by default
    so that both granularities use one definition).
    Ground truth: ``gt_margin`` (see :mod:`xrec_bench.metrics.ground_truth`); ``gt_control_users``
    bounds the randomised-model control.
    Budgets: ``stability_users`` / ``sanity_users`` bound how many requests (the first ones) get the
    stability and sanity metrics (``None``: all); ``infidelity_samples`` is the number of random
    perturbations per explanation; ``stability_candidates`` the number of low-importance features
    tried as input perturbations; ``stability_seeds`` the number of seeds whose attributions are
    averaged before input sensitivity is measured, for explainers that declare themselves
    stochastic (so that their sampling noise is not counted as sensitivity to the input; the noise
    itself is reported by ``run_sensitivity``).
    """

    fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    random_orders: int = 4
    random_seed: int = 0
    pos_neg_bins: int = 10
    cutoffs: tuple[int, ...] = (1, 5, 10, 20)
    eraser_bins: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)
    eraser_only_positive: bool = False
    infidelity_samples: int = 32
    infidelity_drop: float = 0.25
    gt_ks: tuple[int, ...] = (1, 3)
    #: ground truth is scored where the cause's leave-one-out drop leads every other feature's by at
    #: least this many standard deviations of all items' scores (the model provably uses the cause)
    gt_margin: float = 0.1
    #: covered requests (the first ones) re-explained on the randomised model for the control
    gt_control_users: int | None = 50
    jaccard_k: int = 5
    rerun: str = "all"
    stability_users: int | None = 50
    stability_candidates: int = 3
    stability_k: int = 10
    stability_seeds: int = 3
    sanity_users: int | None = 50
    sanity_threshold: float = 0.9
    #: denominators (score ranges, norms) below this are treated as zero: the value becomes NaN
    eps: float = 1e-6
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []  # every problem is reported at once
        for name in ("infidelity_samples", "jaccard_k", "stability_candidates", "stability_k"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(f"EvalConfig.{name} must be an int. Got {value!r} instead.")
        for name in ("stability_users", "sanity_users"):  # a negative count would slice "all but the last n"
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append(f"EvalConfig.{name} must be None (all users) or an int >= 1. Got {value!r} instead.")
        if problems:
            raise ValueError(" ".join(problems))
        checks = [
            ("fractions", all(0.0 <= f <= 1.0 for f in self.fractions) and len(self.fractions) >= 2
             and self.fractions[0] == 0.0 and self.fractions[-1] == 1.0, "start at 0, end at 1, lie in [0, 1]"),
            ("random_orders", self.random_orders >= 1, "be >= 1"),
            ("pos_neg_bins", self.pos_neg_bins >= 1, "be >= 1"),
            ("stability_seeds", self.stability_seeds >= 1, "be >= 1"),
            ("cutoffs", all(int(k) >= 1 for k in self.cutoffs), "be ints >= 1"),
            ("eraser_bins", all(0.0 < b <= 1.0 for b in self.eraser_bins), "lie in (0, 1]"),
            ("infidelity_samples", self.infidelity_samples >= 1, "be >= 1"),
            ("infidelity_drop", 0.0 < self.infidelity_drop < 1.0, "lie in (0, 1)"),
            ("jaccard_k", self.jaccard_k >= 1, "be >= 1"),
            ("rerun", self.rerun in ("all", "stochastic"), "be 'all' or 'stochastic'"),
            ("stability_candidates", self.stability_candidates >= 1, "be >= 1"),
            ("stability_k", self.stability_k >= 1, "be >= 1"),
            ("gt_margin", self.gt_margin >= 0, "be >= 0"),
            ("gt_control_users", self.gt_control_users is None or self.gt_control_users >= 0, "be >= 0 or None"),
        ]
        problems = [f"EvalConfig.{name} must {expected}. Got {getattr(self, name)!r} instead."
                    for name, ok, expected in checks if not ok]
        if problems:
            raise ValueError(" ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def option_schema(names: tuple[str, ...] | list[str]) -> dict[str, Param]:
    """The EvalConfig options ``names`` as parameters: their defaults and what they mean (EvalConfig
    itself checks their values)."""
    by_name = {f.name: f for f in fields(EvalConfig)}
    out = {}
    for name in names:
        f = by_name[name]
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out[name] = Param(default, (), OPTION_HELP.get(name, ""))
    return out
