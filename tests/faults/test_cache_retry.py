"""Fault: a cell failed because a cache file was damaged (before the damage was repaired). Such a
failure says nothing about the method, so the next run computes the cell again, without
``--retry-failed``; a genuine failure of the method stays cached until ``--retry-failed``."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, FakeStages, fake_catalog
from xrec_bench.harness.cell import is_cache_fault
from xrec_bench.harness.runner import run_suite
from xrec_bench.harness.suite import load_suite


@dataclass
class DamagedCacheStages(FakeStages):
    """Explaining with ``random`` at history granularity reads a truncated cache file."""

    def explain(self, data, trained, explainer, requests, *, granularity, seed, metrics, metric_options):
        if (explainer.name, granularity) == ("random", "history"):
            try:
                raise EOFError("arrays.npz: unexpected end of file")
            except EOFError as exc:
                raise ValueError("could not load the processed dataset") from exc
        return super().explain(data, trained, explainer, requests, granularity=granularity, seed=seed,
                               metrics=metrics, metric_options=metric_options)


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "fake.toml"
    path.write_text(FAKE_SUITE_TOML, encoding="utf-8")
    return load_suite(path, catalog=fake_catalog()).with_users(5)


def _status(result, explainer, granularity):
    return next(o for o in result.outcomes if o.key["explainer"] == explainer and o.key["granularity"] == granularity)


def test_a_cell_failed_on_a_damaged_cache_is_retried_by_the_next_run(tmp_path, suite):
    out = tmp_path / "run"
    first = run_suite(suite, out, stages=DamagedCacheStages(), progress=False)
    assert _status(first, "random", "history").status == "failed"
    second = run_suite(suite, out, stages=FakeStages(), progress=False)  # the cache was repaired meanwhile
    redone = _status(second, "random", "history")
    assert redone.status == "ok" and not redone.cached


def test_a_genuine_failure_stays_cached_until_retry_failed(tmp_path, suite):
    out = tmp_path / "run"
    run_suite(suite, out, stages=FakeStages(fail={("random", "history")}), progress=False)
    again = _status(run_suite(suite, out, stages=FakeStages(), progress=False), "random", "history")
    assert again.status == "failed" and again.cached
    retried = _status(run_suite(suite, out, stages=FakeStages(), progress=False, retry_failed=True), "random", "history")
    assert retried.status == "ok"


@pytest.mark.parametrize("exc, expected", [
    (EOFError("truncated"), True), (OSError("disk"), True), (zipfile.BadZipFile("bad"), True),
    (ValueError("the method diverged"), False), (RuntimeError("nan"), False),
])
def test_which_failures_count_as_cache_faults(exc, expected):
    assert is_cache_fault(exc) is expected
