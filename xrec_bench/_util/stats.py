"""Bootstrap confidence intervals over users and paired comparisons between two systems.

One percentile bootstrap (:func:`percentile_bootstrap`) serves both. It is written with numpy rather
than ``scipy.stats.bootstrap``: scipy draws the same resamples from the same generator, but takes its
percentiles at ``100 * alpha`` and so moves CI bounds in the last bit (published numbers are compared
exactly), it refuses a single value, and the paired p-value needs the resampled means themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import false_discovery_control


@dataclass(frozen=True)
class Estimate:
    """A mean with a percentile-bootstrap confidence interval (``level``, default 95%)."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}

    def __str__(self) -> str:
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


def _clean(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return values[np.isfinite(values)]


def percentile_bootstrap(values: np.ndarray, *, n_boot: int, level: float, seed: int) -> tuple[np.ndarray, float, float]:
    """Means of ``n_boot`` resamples (with replacement, generator ``seed``) of the non-empty 1-D
    ``values``, and the ``level`` percentile interval of those means."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(n_boot, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return means, float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def bootstrap_ci(values, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Mean of ``values`` (non-finite entries dropped) with a percentile bootstrap CI over entries."""
    values = _clean(values)
    if values.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, level)
    _, low, high = percentile_bootstrap(values, n_boot=n_boot, level=level, seed=seed)
    return Estimate(float(values.mean()), low, high, int(values.size), level)


@dataclass(frozen=True)
class PairedComparison:
    """``a - b`` over paired entries: the mean difference, its CI, and a two-sided bootstrap p-value."""

    diff: float
    low: float
    high: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        return not (self.low <= 0.0 <= self.high)


def paired_bootstrap(a, b, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> PairedComparison:
    """Compare two systems measured on the same users (entries where either is non-finite are dropped)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap needs values for the same users: got {a.size} and {b.size} entries.")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    if d.size == 0:
        return PairedComparison(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    means, low, high = percentile_bootstrap(d, n_boot=n_boot, level=level, seed=seed)
    # two-sided p-value of the percentile bootstrap: how often the resampled mean crosses zero
    centred = means - d.mean()
    p = float(np.mean(np.abs(centred) >= abs(d.mean()))) if d.std() > 0 else (0.0 if d.mean() != 0 else 1.0)
    return PairedComparison(float(d.mean()), low, high, p, int(d.size))


def adjust_p_values(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``) of a family of
    tests; NaN entries (tests that could not be run) stay NaN and do not count in the family."""
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return out
