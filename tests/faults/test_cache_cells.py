"""Faults in the cell cache: a cell file of valid JSON but the wrong shape, and cells that outlive
the code that computed them."""

from __future__ import annotations

import importlib
import sys

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, FakeStages, fake_catalog
from xrec_bench.harness.cache import CellCache
from xrec_bench.harness.fingerprint import module_sources
from xrec_bench.harness.runner import plan, run_suite
from xrec_bench.harness.suite import load_suite


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "fake.toml"
    path.write_text(FAKE_SUITE_TOML, encoding="utf-8")
    return load_suite(path, catalog=fake_catalog()).with_users(5)


@pytest.mark.parametrize("content", ["[]", "{}", '{"status": "ok"}', "null", '"text"', '{"cache_key": 1}'])
def test_a_cell_file_of_the_wrong_shape_counts_as_absent(tmp_path, suite, content):
    out = tmp_path / "run"
    first = run_suite(suite, out, stages=FakeStages(), progress=False)
    victim = first.outcomes[0].path
    with open(victim, "w") as fh:
        fh.write(content)
    assert CellCache(out).load(victim) is None
    second = run_suite(suite, out, stages=FakeStages(), progress=False)
    redone = {o.path: o for o in second.outcomes}[victim]
    assert not redone.cached and redone.status == first.outcomes[0].status
    assert sum(not o.cached for o in second.outcomes) == 1  # only the damaged cell was recomputed


def test_cell_keys_change_when_the_code_behind_them_changes(tmp_path, suite):
    from xrec_bench.harness.stages import LoadedData

    data = {ds.label: LoadedData("fp", {}, {}) for ds in suite.datasets}
    before = plan(suite, data, tmp_path, code_fingerprint=lambda e: {"explainer": "v1"} if e else {"metrics": "m1"})
    edited = plan(suite, data, tmp_path, code_fingerprint=lambda e: {"explainer": "v2"} if e else {"metrics": "m1"})
    same = plan(suite, data, tmp_path, code_fingerprint=lambda e: {"explainer": "v1"} if e else {"metrics": "m1"})
    assert [j.digest for j in before] == [j.digest for j in same]
    changed = {j.kind for a, j in zip(before, edited, strict=True) if a.digest != j.digest}
    assert changed == {"explainer"}  # editing an explainer recomputes its cells, not the accuracy cells


def test_editing_an_explainer_module_changes_its_fingerprint(tmp_path, monkeypatch):
    """The attack: edit an explainer's source in a checkout; its cached cells must not be reused."""
    module = tmp_path / "my_explainer_mod.py"
    module.write_text("def attribute():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    module_sources.cache_clear()
    first = module_sources("my_explainer_mod")
    module.write_text("def attribute():\n    return 2\n")
    module_sources.cache_clear()
    assert module_sources("my_explainer_mod") != first
    sys.modules.pop("my_explainer_mod", None)


def test_the_real_stages_fingerprint_an_explainer_and_the_metrics_package():
    from xrec_bench.harness.stages import RealStages
    from xrec_bench.harness.suite import ComponentSpec

    stages = RealStages()
    lime = stages.code_fingerprint(ComponentSpec("lime", "lime"))
    ig = stages.code_fingerprint(ComponentSpec("integrated-gradients", "ig"))
    assert lime["metrics"] == ig["metrics"] == stages.code_fingerprint(None)["metrics"]
    assert lime["explainer"] != ig["explainer"]
