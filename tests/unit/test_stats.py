import numpy as np

from xrec_bench.metrics.stats import bootstrap_ci, paired_bootstrap
from xrec_bench.models.base import topk


def test_bootstrap_ci_covers_mean_and_ignores_nan():
    values = np.r_[np.random.default_rng(0).normal(1.0, 0.5, 400), np.nan]
    est = bootstrap_ci(values, seed=1)
    assert est.n == 400
    assert est.low < est.mean < est.high
    assert abs(est.mean - 1.0) < 0.1
    assert bootstrap_ci([np.nan]).n == 0


def test_paired_bootstrap_detects_shift_not_noise():
    r = np.random.default_rng(0)
    a = r.normal(0, 1, 300)
    shifted = paired_bootstrap(a + 0.1 + r.normal(0, 0.05, 300), a, seed=0)
    assert shifted.significant and shifted.diff > 0 and shifted.p_value < 0.01
    noise = paired_bootstrap(a + r.normal(0, 0.05, 300), a, seed=0)
    assert not noise.significant


def test_topk_breaks_ties_by_lower_index():
    scores = np.array([[0.5, 0.9, 0.9, 0.1]])
    assert topk(scores, 3).tolist() == [[1, 2, 0]]
    assert topk(scores, 10).shape == (1, 4)
