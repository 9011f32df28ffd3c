"""The regression gate: planted regressions fail it; a clean re-run, noise and not-comparable runs do not."""

from __future__ import annotations

import pytest

from tests.helpers.fake_stages import FakeStages
from xrec_bench.cli import main as cli
from xrec_bench.io import read_json, write_json
from xrec_bench.leaderboard.gate import GateConfig, calibrate, compare, to_markdown
from xrec_bench.leaderboard.load import MergeError, load_board

TOLERANCE = GateConfig(exact="never")


def F(**knobs) -> FakeStages:
    """Fake stages with the real interleaved timing probe (over CPU work sized by each explainer's cost)."""
    return FakeStages(probe=True, **knobs)


@pytest.fixture
def baseline(run):
    return run(F(seed_offset=0))


def _verdicts(report, verdict):
    return {(f.cell, f.metric) for f in report.findings if f.verdict == verdict}


def _failing(report):
    return {(f.cell.split("/")[-1], f.metric) for f in report.regressions}


def test_identical_rerun_passes_in_exact_mode(baseline, run):
    report = compare(load_board([baseline]), load_board([run(F())]))
    assert report.passed, to_markdown(report, baseline="b", candidate="c")
    assert report.mode == "exact"
    assert all(f.note == "identical" for f in report.findings if f.metric in ("deletion_auc", "insertion_auc"))
    # latency judged from the interleaved probe, in every cell
    latency = [f for f in report.findings if f.metric == "wall_time_s"]
    assert latency and all(f.verdict == "ok" for f in latency)


def test_rerun_with_another_seed_passes_with_tolerances(baseline, run):
    report = compare(load_board([baseline]), load_board([run(F(seed_offset=1))]), TOLERANCE)
    assert report.passed, to_markdown(report, baseline="b", candidate="c")
    assert report.mode == "tolerance"
    assert all("paired" in f.note for f in report.findings if f.metric in ("deletion_auc", "gt_precision@1"))


def test_planted_shuffled_attributions_fail(baseline, run):
    """(a) attributions shuffled for 30% of users: faithfulness drops, in each metric's direction."""
    candidate = load_board([run(F(shuffle={"oracle": 0.3}))])
    report = compare(load_board([baseline]), candidate, TOLERANCE)
    assert {m for _, m in _failing(report)} >= {"deletion_auc", "insertion_auc"}
    assert {e for e, _ in _failing(report)} == {"oracle"}
    exact = compare(load_board([baseline]), candidate)
    assert {f.verdict for f in exact.regressions} == {"changed"} and {e for e, _ in _failing(exact)} == {"oracle"}


def test_planted_twice_the_model_evaluations_fail(baseline, run):
    """(b) 2x the model evaluations: caught exactly, whatever the timing noise."""
    report = compare(load_board([baseline]), load_board([run(F(evals_factor={"perturbation": 2.0}))]))
    assert ("perturbation", "n_evals") in _failing(report)
    assert {m for _, m in _failing(report)} <= {"n_evals", "wall_time_s"}
    finding = next(f for f in report.regressions if f.metric == "n_evals")
    assert finding.candidate == 2 * finding.baseline


def test_planted_twice_the_wall_time_fails(baseline, run):
    """(c) 2x slower in wall time only (same evaluations, same values): the interleaved probe catches it."""
    report = compare(load_board([baseline]), load_board([run(F(time_factor={"perturbation": 2.0}))]))
    assert _failing(report) == {("perturbation", "wall_time_s")}, to_markdown(report, baseline="b", candidate="c")
    for f in report.regressions:
        assert 1.6 < f.diff < 2.5  # the ratio in reference units


def test_planted_changed_metric_definition_fails(baseline, run):
    """(d) a metric moves although nothing else did: exact mode names the metric in every cell."""
    report = compare(load_board([baseline]), load_board([run(F(metric_shift={"insertion_auc": 0.01}))]))
    assert {m for _, m in _failing(report)} == {"insertion_auc"}
    assert {f.verdict for f in report.regressions} == {"changed"}
    assert "bump the suite version" in report.regressions[0].note


def test_slower_machine_is_not_a_slower_explainer(baseline, run):
    """Per-user wall times 3x larger (a slower machine) are never gated; the probe is in reference units."""
    assert compare(load_board([baseline]), load_board([run(F(slowdown=3.0))])).passed


def test_failed_and_missing_cells_fail_the_gate(baseline, run, suite):
    failed = run(F(fail={("oracle", "history")}))
    report = compare(load_board([baseline]), load_board([failed]))
    assert {(f.cell, f.verdict) for f in report.regressions} == {
        ("toy-a/fake-two-tower/history/oracle", "failed"), ("toy-b/fake-two-tower/history/oracle", "failed")}
    import dataclasses

    fewer = run(suite_=dataclasses.replace(suite, explainers=suite.explainers[:4]))
    report = compare(load_board([baseline]), load_board([fewer]))
    assert {f.verdict for f in report.regressions} == {"missing"}


def test_other_configuration_is_refused_unless_allowed(baseline, run):
    smoke = load_board([run(F(seed_offset=1), users=5)])
    with pytest.raises(MergeError, match="configuration differs.*--allow-incomparable"):
        compare(load_board([baseline]), smoke)
    report = compare(load_board([baseline]), smoke, GateConfig(allow_incomparable=True))
    assert any(n.startswith("WARNING: compared although not comparable") for n in report.notes)
    assert report.mode == "tolerance"
    # 5 users: fewer pairs than the paired test needs -> inconclusive, not 83 "regressions"
    assert report.passed and _verdicts(report, "inconclusive")
    assert all(f.verdict != "regression" for f in report.findings)


def test_other_data_or_suite_version_is_refused(baseline, run, tmp_path):
    record_path = next((run() / "records").glob("*.json"))
    record = read_json(record_path)
    record["datasets"]["toy-a"]["fingerprint"] = "changed"
    write_json(tmp_path / "other.json", record)
    with pytest.raises(MergeError, match="dataset 'toy-a' checksum differs"):
        compare(load_board([baseline]), load_board([tmp_path / "other.json"]))
    record = read_json(record_path)
    record["suite"]["version"] = 99
    write_json(tmp_path / "v99.json", record)
    with pytest.raises(MergeError, match="suite version differs"):
        compare(load_board([baseline]), load_board([tmp_path / "v99.json"]))


def test_latency_without_a_probe_is_not_judged(baseline, run, tmp_path):
    record_path = next((run(F(time_factor={"oracle": 5.0})) / "records").glob("*.json"))
    record = read_json(record_path)
    for cell in record["cells"]:
        cell.pop("timing", None)
    write_json(tmp_path / "old.json", record)
    report = compare(load_board([baseline]), load_board([tmp_path / "old.json"]))
    assert report.passed
    not_judged = [f for f in report.findings if f.verdict == "not judged"]
    assert not_judged and all("no timing probe" in f.note for f in not_judged)
    assert "Latency not judged" in to_markdown(report, baseline="b", candidate="c")


def test_calibration_is_stored_and_read_next_to_the_baseline(baseline, run, tmp_path, capsys):
    clean = [run(F()) for _ in range(2)]
    result = calibrate([load_board([baseline])] + [load_board([c]) for c in clean])
    assert result["latency_threshold"] >= 1.2 and result["n_cells"] > 0
    assert result["latency_threshold"] == max(1.2, result["max_spread"] ** 2)
    out = baseline / "gate-calibration.json"
    assert cli(["gate-calibrate", str(baseline), *map(str, clean), "--out", str(out)]) == 0
    assert cli(["gate", "--baseline", str(baseline), "--candidate", str(clean[0])]) == 0
    assert f"calibrated ({out})" in capsys.readouterr().out
    with pytest.raises(ValueError, match="at least 3"):
        calibrate([load_board([baseline]), load_board([clean[0]])])


def test_gate_config_is_checked():
    with pytest.raises(ValueError, match="'level' must be in"):
        GateConfig(level=1.5)
    with pytest.raises(ValueError, match="'exact' must be one of"):
        GateConfig(exact="sometimes")


def test_cli_exit_status_and_markdown_file(baseline, run, tmp_path, capsys):
    good = run(F())
    bad = run(F(quality_shift={"oracle": -0.5}))
    assert cli(["gate", "--baseline", str(baseline), "--candidate", str(good)]) == 0
    summary = tmp_path / "summary.md"
    assert cli(["gate", "--baseline", str(baseline), "--candidate", str(bad), "--markdown", str(summary)]) == 1
    assert "FAILED" in summary.read_text() and "oracle" in capsys.readouterr().out
    assert cli(["gate", "--baseline", str(tmp_path / "nowhere"), "--candidate", str(good)]) == 2
    smoke = run(F(), users=5)
    assert cli(["gate", "--baseline", str(baseline), "--candidate", str(smoke)]) == 2
    assert cli(["gate", "--baseline", str(baseline), "--candidate", str(smoke), "--allow-incomparable"]) == 0
