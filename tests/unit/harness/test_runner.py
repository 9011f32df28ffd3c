"""The runner with fake stages: caching, resume, failure recording, seeds, executors."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from tests.helpers.fake_stages import FakeStages
from xrec_bench.harness.executor import ProcessPoolExecutor, get_executor
from xrec_bench.harness.runner import plan, run_suite
from xrec_bench.harness.suite import ComponentSpec
from xrec_bench.io import read_json
from xrec_bench.registry import UnknownNameError

N_CELLS = 2 * 2 + 2 * 2 * 5  # accuracy (2 datasets x 2 models) + explainer cells (2 x 2 granularities x 5)


def _metrics(record) -> dict:
    return {json.dumps(c["key"], sort_keys=True): (c["status"], c["metrics"]) for c in record["cells"]}


def test_a_run_records_every_cell_and_its_provenance(suite, tmp_path):
    result = run_suite(suite, tmp_path / "out", stages=FakeStages(), progress=False)
    rec = result.record
    assert rec["counts"] == {"planned": N_CELLS, "cached": 0, "computed": N_CELLS, "ok": N_CELLS - 2, "failed": 0,
                             "skipped": 2}
    assert rec["suite"]["content_hash"] == suite.content_hash and rec["suite"]["version"] == 1
    assert set(rec["datasets"]) == {"toy-a", "toy-b"} and rec["datasets"]["toy-a"]["fingerprint"].startswith("fake-")
    assert {m["model"] for m in rec["models"]} == {"fake-two-tower", "fake-popular"}
    assert rec["metric_specs"]["deletion_auc"]["higher_is_better"] is False
    assert rec["reference_workload"]["seconds"] > 0
    skipped = [c for c in rec["cells"] if c["status"] == "skipped"]
    assert {c["key"]["explainer"] for c in skipped} == {"history-only"}
    assert "does not apply to tokens" in skipped[0]["reason"]
    cell = next(c for c in rec["cells"] if c["key"]["explainer"] == "oracle" and c["key"]["granularity"] == "history")
    assert len(cell["users"]) == 60 and len(cell["metrics"]["insertion_auc"]) == 60
    assert read_json(result.record_path)["run_id"] == rec["run_id"]
    assert read_json(tmp_path / "out" / "record.json")["run_id"] == rec["run_id"]
    # the cell file keeps per-user curves; the record keeps the mean curve
    full = read_json(next((tmp_path / "out" / "cells").rglob("history__oracle__*.json")))
    assert np.array(full["curves_per_user"]["deletion_score"]).shape == (60, 11)
    assert len(cell["curves"]["deletion_score"]) == 11 and "curves_per_user" not in cell


def test_a_rerun_computes_nothing_and_gives_the_same_record(suite, tmp_path):
    first = run_suite(suite, tmp_path, stages=FakeStages(), progress=False)
    stages = FakeStages()
    second = run_suite(suite, tmp_path, stages=stages, progress=False)
    assert second.record["counts"]["cached"] == N_CELLS and second.record["counts"]["computed"] == 0
    assert stages.calls == {}  # no training, no explaining
    assert _metrics(first.record) == _metrics(second.record)
    assert len(list((tmp_path / "records").glob("*.json"))) == 2


def test_changing_one_explainer_recomputes_only_its_cells(suite, tmp_path):
    run_suite(suite, tmp_path, stages=FakeStages(), progress=False)
    explainers = list(suite.explainers)
    explainers[2] = ComponentSpec("gradient", "gradient", {"n_steps": 64})
    changed = dataclasses.replace(suite, explainers=tuple(explainers))
    stages = FakeStages()
    result = run_suite(changed, tmp_path, stages=stages, progress=False)
    recomputed = [o.key for o in result.outcomes if not o.cached]
    assert {k["explainer"] for k in recomputed} == {"gradient"} and len(recomputed) == 4
    assert stages.calls == {"explain": 4, "train": 2}  # one model per dataset, loaded once


def test_adding_a_cell_changes_no_other_cells_numbers(suite, tmp_path):
    small = dataclasses.replace(suite, explainers=suite.explainers[:2])
    a = run_suite(small, tmp_path / "a", stages=FakeStages(), progress=False)
    b = run_suite(suite, tmp_path / "b", stages=FakeStages(), progress=False)
    in_a = _metrics(a.record)
    assert all(_metrics(b.record)[k] == v for k, v in in_a.items())
    seeds = {(c["key"]["dataset"], c["cell_seed"]) for c in b.record["cells"] if c["kind"] == "explainer"}
    assert len(seeds) == 2  # one seed per dataset x model x replicate; explainers derive their own from it


def test_failures_are_recorded_and_the_rest_goes_on(suite, tmp_path):
    stages = FakeStages(fail={("gradient", "tokens")}, nan={("perturbation", "history")})
    rec = run_suite(suite, tmp_path, stages=stages, progress=False).record
    failed = {(c["key"]["dataset"], c["key"]["explainer"], c["key"]["granularity"]): c for c in rec["cells"]
              if c["status"] == "failed"}
    assert set(failed) == {(d, e, g) for d in ("toy-a", "toy-b")
                           for e, g in (("gradient", "tokens"), ("perturbation", "history"))}
    assert "RuntimeError: fake failure of gradient at tokens" in failed[("toy-a", "gradient", "tokens")]["reason"]
    assert "every metric value is NaN" in failed[("toy-a", "perturbation", "history")]["reason"]
    assert rec["counts"]["failed"] == 4 and rec["counts"]["ok"] == N_CELLS - 2 - 4


def test_failed_cells_are_kept_unless_retried(suite, tmp_path):
    run_suite(suite, tmp_path, stages=FakeStages(fail={("gradient", "tokens")}), progress=False)
    kept = run_suite(suite, tmp_path, stages=FakeStages(), progress=False).record
    assert kept["counts"]["failed"] == 2
    retried = run_suite(suite, tmp_path, stages=FakeStages(), progress=False, retry_failed=True).record
    assert retried["counts"]["failed"] == 0 and retried["counts"]["computed"] == 2


def test_an_interrupted_run_resumes_without_losing_or_duplicating_cells(suite, tmp_path):
    reference = run_suite(suite, tmp_path / "ref", stages=FakeStages(), progress=False).record
    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, tmp_path / "run", stages=FakeStages(interrupt_after=7), progress=False)
    files = list((tmp_path / "run" / "cells").rglob("*.json"))
    assert len(files) == 2 + 6  # toy-a's accuracy cells + the 6 explainer cells finished before the interruption
    assert not (tmp_path / "run" / "records").exists()  # no record for an unfinished run
    assert not list((tmp_path / "run" / "cells").rglob("*.tmp"))
    resumed = run_suite(suite, tmp_path / "run", stages=FakeStages(), progress=False).record
    assert resumed["counts"]["cached"] == 8 and resumed["counts"]["computed"] == N_CELLS - 8
    assert _metrics(resumed) == _metrics(reference)
    assert len(list((tmp_path / "run" / "cells").rglob("*.json"))) == N_CELLS


def test_users_override_is_recorded_and_changes_the_cells(suite, tmp_path):
    rec = run_suite(suite, tmp_path, stages=FakeStages(), progress=False, users_override=5).record
    assert rec["suite"]["users"] == {"history": 5, "tokens": 5} and rec["suite"]["users_override"] == 5
    assert all(len(c["users"]) == 5 for c in rec["cells"] if c["kind"] == "explainer" and c["status"] == "ok")
    full = run_suite(suite, tmp_path, stages=FakeStages(), progress=False).record
    assert full["config_hash"] != rec["config_hash"] and full["counts"]["computed"] == 20  # explainer cells (accuracy cells kept)


def test_plan_keys_depend_on_dataset_fingerprint(suite, tmp_path):
    from xrec_bench.harness.stages import LoadedData

    data = {d.label: LoadedData(f"fp-{d.label}", {}, {}) for d in suite.datasets}
    other = {**data, "toy-a": LoadedData("fp-changed", {}, {})}
    a = {j.digest for j in plan(suite, data, tmp_path)}
    b = {j.digest for j in plan(suite, other, tmp_path)}
    assert len(a) == N_CELLS and len(a - b) == N_CELLS // 2  # exactly toy-a's cells change


def test_process_pool_gives_the_same_cells_as_in_process(suite, tmp_path):
    inproc = run_suite(suite, tmp_path / "a", stages=FakeStages(), progress=False).record
    pooled = run_suite(suite, tmp_path / "b", stages=FakeStages(), progress=False,
                       executor=ProcessPoolExecutor(workers=2)).record
    assert pooled["executor"] == {"kind": "process", "workers": 2}
    assert _metrics(pooled) == _metrics(inproc)
    pids = {c["host_pid"] for c in pooled["cells"] if c["kind"] == "explainer" and c["status"] == "ok"}
    assert len(pids) >= 1 and all(p.split(":")[1] != str(__import__("os").getpid()) for p in pids)


def test_executor_registry_and_bad_workers():
    with pytest.raises(UnknownNameError, match="Did you mean: process"):
        get_executor("proces")
    with pytest.raises(ValueError, match="workers must be an int >= 1. Got 0"):
        get_executor("process", workers=0)


def test_judge_tells_declined_requests_from_failures():
    from xrec_bench.harness.cell import judge
    from xrec_bench.harness.stages import CellOutput

    nan = {"deletion_auc": np.full(2, np.nan)}
    declined = CellOutput([1, 2], [5, 6], nan, skipped=[(1, "too many features"), (2, "too many features")])
    assert judge(declined, strict=False) == ("skipped", "every request was skipped: too many features", [])
    unexplained = CellOutput([1, 2], [5, 6], nan, skipped=[(1, "too many features")])
    assert judge(unexplained, strict=False)[0] == "failed"
    partial = CellOutput([1, 2], [5, 6], {"deletion_auc": np.array([0.5, np.nan]), "gt_ap": np.full(2, np.nan)})
    status, _, warnings = judge(partial, strict=False)
    assert status == "ok" and warnings == ["metric 'gt_ap' is NaN for every user"]
    assert judge(partial, strict=True)[0] == "failed"  # accuracy cells: any NaN fails


class _MetricSkips(FakeStages):
    """Every user explained, and every user skipped by a metric (as ground truth does where the model
    does not use the planted cause); the first user also declined by the explainer."""

    def explain(self, data, trained, explainer, requests, **kwargs):
        out = super().explain(data, trained, explainer, requests, **kwargs)
        return dataclasses.replace(out, skipped=[(u, "ground truth: not used") for u in out.users],
                                   declined=out.users[:1])


def test_the_timing_probe_times_every_explained_user_not_only_metric_complete_ones(suite, tmp_path):
    rec = run_suite(suite, tmp_path, stages=_MetricSkips(probe=True), progress=False).record
    cell = next(c for c in rec["cells"] if c["key"]["explainer"] == "oracle" and c["key"]["granularity"] == "history")
    assert cell["status"] == "ok"
    assert cell["timing"]["judged"] is True, cell["timing"]
    assert cell["timing"]["n_items"] == len(cell["users"]) - 1  # the declined user is not timed


def test_plan_explains_a_model_only_at_the_granularities_it_supports(suite, tmp_path):
    from xrec_bench.harness.stages import LoadedData

    data = {d.label: LoadedData(f"fp-{d.label}", {}, {}) for d in suite.datasets}
    model = suite.models[0]
    history_only = dataclasses.replace(suite, model_granularities={model.label: ("history",)})
    cells = [j for j in plan(history_only, data, tmp_path) if j.kind == "explainer"]
    assert cells and {j.granularity for j in cells} == {"history"}
    every = [j for j in plan(suite, data, tmp_path) if j.kind == "explainer"]
    assert len(every) == 2 * len(cells) and set(suite.granularities) == {"history", "tokens"}
