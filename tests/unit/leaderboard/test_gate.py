"""The regression gate: planted regressions fail it, noise and slower machines do not."""

from __future__ import annotations

import pytest

from xrec_bench.cli import main as cli
from xrec_bench.harness.fake import FakeStages
from xrec_bench.io import read_json, write_json
from xrec_bench.leaderboard.gate import GateConfig, compare, to_markdown
from xrec_bench.leaderboard.load import MergeError, load_board


@pytest.fixture
def baseline(run):
    return run(FakeStages(seed_offset=0))


def _verdicts(report, verdict):
    return {(f.cell, f.metric) for f in report.findings if f.verdict == verdict}


def test_rerun_with_another_seed_passes(baseline, run):
    report = compare(load_board([baseline]), load_board([run(FakeStages(seed_offset=1))]))
    assert report.passed, to_markdown(report, baseline="b", candidate="c")
    # paired over the same users: the comparisons are paired, not unpaired
    assert all("paired" in f.note or "latency" in f.note for f in report.findings if f.metric != "*")


def test_planted_quality_regression_fails(baseline, run):
    candidate = run(FakeStages(seed_offset=1, quality_shift={"gradient": -0.25}))
    report = compare(load_board([baseline]), load_board([candidate]))
    assert not report.passed
    cells = {cell for cell, _ in _verdicts(report, "regression")}
    assert cells == {"toy-a/fake-two-tower/history/gradient", "toy-a/fake-two-tower/tokens/gradient",
                     "toy-b/fake-two-tower/history/gradient", "toy-b/fake-two-tower/tokens/gradient"}
    metrics = {m for _, m in _verdicts(report, "regression")}
    assert metrics == {"deletion_auc", "insertion_auc", "gt_precision@1"}  # each in its own direction
    md = to_markdown(report, baseline="base", candidate="cand")
    assert "## xrec-bench gate: FAILED" in md and "### Regressions" in md and "gradient" in md


def test_improvement_is_not_a_regression(baseline, run):
    report = compare(load_board([baseline]), load_board([run(FakeStages(quality_shift={"random": 0.3}))]))
    assert report.passed and {c for c, _ in _verdicts(report, "improvement")} >= {
        "toy-a/fake-two-tower/history/random"}


def test_latency_is_normalised_by_the_reference_workload(baseline, run):
    slower_machine = run(FakeStages(seed_offset=1, slowdown=3.0))
    assert compare(load_board([baseline]), load_board([slower_machine])).passed
    slower_explainer = run(FakeStages(seed_offset=1, cost_factor={"perturbation": 3.0}))
    report = compare(load_board([baseline]), load_board([slower_explainer]))
    assert {(c.split("/")[-1], m) for c, m in _verdicts(report, "regression")} == {("perturbation", "wall_time_s")}
    finding = next(f for f in report.regressions)
    assert 2.5 < finding.diff < 3.5  # the normalised ratio


def test_failed_and_missing_cells_fail_the_gate(baseline, run, suite):
    failed = run(FakeStages(fail={("oracle", "history")}))
    report = compare(load_board([baseline]), load_board([failed]))
    assert {(f.cell, f.verdict) for f in report.regressions} == {
        ("toy-a/fake-two-tower/history/oracle", "failed"), ("toy-b/fake-two-tower/history/oracle", "failed")}
    import dataclasses

    fewer = run(suite_=dataclasses.replace(suite, explainers=suite.explainers[:4]))
    report = compare(load_board([baseline]), load_board([fewer]))
    assert {f.verdict for f in report.regressions} == {"missing"}


def test_gate_refuses_other_data(baseline, run, tmp_path):
    record_path = next((run() / "records").glob("*.json"))
    record = read_json(record_path)
    record["datasets"]["toy-a"]["fingerprint"] = "changed"
    write_json(tmp_path / "other.json", record)
    with pytest.raises(MergeError, match="Dataset 'toy-a' differs"):
        compare(load_board([baseline]), load_board([tmp_path / "other.json"]))


def test_gate_config_is_checked():
    with pytest.raises(ValueError, match="'level' must be in"):
        GateConfig(level=1.5)


def test_cli_exit_status_and_markdown_file(baseline, run, tmp_path, capsys):
    good = run(FakeStages(seed_offset=2))
    bad = run(FakeStages(seed_offset=2, quality_shift={"oracle": -0.5}))
    assert cli(["gate", "--baseline", str(baseline), "--candidate", str(good)]) == 0
    summary = tmp_path / "summary.md"
    assert cli(["gate", "--baseline", str(baseline), "--candidate", str(bad), "--markdown", str(summary)]) == 1
    assert "FAILED" in summary.read_text() and "oracle" in capsys.readouterr().out
    assert cli(["gate", "--baseline", str(tmp_path / "nowhere"), "--candidate", str(good)]) == 2
