"""The one percentile bootstrap behind ``bootstrap_ci`` and ``paired_bootstrap``."""

import numpy as np
import pytest
from scipy import stats

from xrec_bench._util.stats import bootstrap_ci, paired_bootstrap, percentile_bootstrap


def test_resamples_are_scipys_and_bounds_within_rounding_of_scipys():
    values = np.random.default_rng(0).normal(size=120)
    means, low, high = percentile_bootstrap(values, n_boot=500, level=0.9, seed=7)
    ref = stats.bootstrap((values,), np.mean, n_resamples=500, confidence_level=0.9, method="percentile",
                          random_state=np.random.default_rng(7), vectorized=True)
    np.testing.assert_array_equal(means, ref.bootstrap_distribution)
    assert low == pytest.approx(ref.confidence_interval.low, abs=1e-12)
    assert high == pytest.approx(ref.confidence_interval.high, abs=1e-12)


def test_bootstrap_ci_and_paired_bootstrap_use_it():
    r = np.random.default_rng(1)
    a, b = r.normal(size=80), r.normal(size=80)
    _, low, high = percentile_bootstrap(a, n_boot=1000, level=0.95, seed=3)
    est = bootstrap_ci(a, seed=3)
    assert (est.low, est.high) == (low, high)
    _, low, high = percentile_bootstrap(a - b, n_boot=2000, level=0.95, seed=3)
    pc = paired_bootstrap(a, b, seed=3)
    assert (pc.low, pc.high) == (low, high)


def test_known_values_stay_fixed():
    """Pinned: published leaderboards are compared exactly, so the resampling must not change."""
    est = bootstrap_ci(np.arange(10.0), n_boot=200, seed=0)
    means = np.arange(10.0)[np.random.default_rng(0).integers(0, 10, size=(200, 10))].mean(axis=1)
    assert (est.low, est.high) == (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))
    assert est.mean == 4.5 and est.n == 10


def test_one_value_has_a_zero_width_interval():
    est = bootstrap_ci([2.0])
    assert (est.mean, est.low, est.high, est.n) == (2.0, 2.0, 2.0, 1)
