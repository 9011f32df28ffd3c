"""Leaderboard tables from run records: CIs, significance marks, merging rules, files."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from tests.helpers.fake_stages import FakeStages
from xrec_bench.io import read_json, write_json
from xrec_bench.leaderboard.load import MergeError, load_board, merge, read_record
from xrec_bench.leaderboard.tables import build_tables
from xrec_bench.leaderboard.write import write_leaderboard


def test_tables_have_cis_best_and_marks(run):
    board = load_board([run()])
    tables = build_tables(board)
    assert [(t.dataset, t.granularity) for t in tables] == [
        ("toy-a", "history"), ("toy-a", "tokens"), ("toy-b", "history"), ("toy-b", "tokens")]
    t = tables[0]
    rows = {r.explainer: r for r in t.rows}
    assert set(rows) == {"gradient", "history-only", "oracle", "perturbation", "random"}
    ins = rows["oracle"].entries["insertion_auc"]
    assert ins.best and ins.estimate.low < ins.estimate.mean < ins.estimate.high and ins.estimate.n == 60
    assert rows["oracle"].entries["deletion_auc"].best  # lower is better
    # random is a data baseline (model-blind): the fastest, but never crowned; the fastest model-aware one is
    assert rows["random"].model_blind and not rows["random"].entries["wall_time_s"].best
    assert rows["history-only"].entries["wall_time_s"].best
    assert "▲" not in rows["random"].entries["wall_time_s"].marks  # no findings on cost
    # gradient (0.6) and perturbation (0.5) are close: the paired test cannot separate them at 60 users
    assert not rows["random"].entries["insertion_auc"].tie_best
    assert not rows["oracle"].entries["insertion_auc"].tie_random
    assert t.accuracy["fake-two-tower"]["ndcg@10"].n == 400 and "fake-popular" in t.accuracy
    assert list(t.accuracy)[0] == "fake-two-tower"  # the explained model first
    assert t.metrics[:2] == ["deletion_auc", "insertion_auc"] and t.metrics[-1] == "wall_time_s"


def test_ties_are_marked(run):
    tie = FakeStages(quality_shift={"gradient": 0.3})  # gradient == oracle in quality
    marked = 0
    for table in build_tables(load_board([run(tie)])):  # 4 tables: a false "significant" is a 5% event each
        rows = {r.explainer: r for r in table.rows}
        best = next(r for r in rows.values() if r.status == "ok" and r.entries["insertion_auc"].best)
        other = rows["gradient" if best.explainer == "oracle" else "oracle"]
        assert best.explainer in ("oracle", "gradient")
        marked += other.entries["insertion_auc"].marks == "†"
        assert rows["perturbation"].entries["insertion_auc"].marks == ""  # clearly worse than the best
    assert marked >= 3
    noisy = FakeStages(noise=2.0, quality_shift={"oracle": -0.9})  # oracle == random, lots of noise
    rows = {r.explainer: r for r in build_tables(load_board([run(noisy)]))[0].rows}
    assert "‡" in rows["oracle"].entries["gt_precision@1"].marks


def test_skipped_and_failed_rows_say_why(run):
    t = build_tables(load_board([run(FakeStages(fail={("gradient", "tokens")}))]))[1]
    rows = {r.explainer: r for r in t.rows}
    assert rows["gradient"].status == "failed" and "fake failure" in rows["gradient"].reason
    assert rows["history-only"].status == "skipped" and "does not apply" in rows["history-only"].reason


def test_merge_refuses_different_suite_versions_configs_and_data(run, suite, tmp_path):
    a = read_record(next((run() / "records").glob("*.json")))
    b = read_record(next((run(suite_=dataclasses.replace(suite, version=2)) / "records").glob("*.json")))
    with pytest.raises(MergeError, match="different suites: .* ran fake v1 .* ran fake v2"):
        merge([a, b])
    c = read_record(next((run(users=5) / "records").glob("*.json")))
    with pytest.raises(MergeError, match="sampled different users"):
        merge([a, c])
    d = dict(a, datasets={**a["datasets"], "toy-a": {**a["datasets"]["toy-a"], "fingerprint": "other"}})
    with pytest.raises(MergeError, match="dataset 'toy-a' has fingerprint"):
        merge([a, d])


def test_merging_a_rerun_deduplicates_cells(run):
    out = run()
    first = next((out / "records").glob("*.json"))
    from xrec_bench.harness.runner import run_suite  # noqa: F401  (a second record into the same folder)

    second = out / "records" / "copy.json"
    write_json(second, read_json(first))
    board = load_board([out])
    assert len(board.runs) == 2 and len(board.cells) == len(read_json(first)["cells"])


def test_written_files_and_identical_tables_for_identical_runs(run, tmp_path):
    one = write_leaderboard(load_board([run()]), tmp_path / "results1", plots=False)
    two = write_leaderboard(load_board([run()]), tmp_path / "results2", plots=False)
    assert one.parts[-2:] == ("fake", "v1")
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(["leaderboard.json", "index.html", "README.md"]
                           + [f"{d}__fake-two-tower__{g}.{x}" for d in ("toy-a", "toy-b")
                              for g in ("history", "tokens") for x in ("csv", "md")])
    for name in names:
        if name.endswith((".csv", ".md")) and name != "README.md":  # README names the runs
            assert (one / name).read_text() == (two / name).read_text(), name
    frame = pd.read_csv(one / "toy-a__fake-two-tower__history.csv")
    assert {"explainer", "insertion_auc_mean", "insertion_auc_low", "insertion_auc_marks", "model_ndcg@10"} <= set(frame)
    md = (one / "toy-a__fake-two-tower__history.md").read_text()
    assert "| **fake-two-tower** (explained) |" in md and "insertion_auc ↑" in md and "deletion_auc ↓" in md
    full = read_json(one / "leaderboard.json")
    assert full["kind"] == "leaderboard" and len(full["tables"]) == 4 and full["cells"]
    # a leaderboard.json loads back as a board (the gate accepts it as a baseline)
    assert len(load_board([one / "leaderboard.json"]).cells) == len(full["cells"])


def test_leaderboard_diff_ignores_latency_but_not_quality(run, tmp_path, capsys):
    from xrec_bench.cli import main as cli

    builds = []
    for i, stages in enumerate([FakeStages(), FakeStages(slowdown=2.0), FakeStages(quality_shift={"gradient": -0.1})]):
        builds.append(write_leaderboard(load_board([run(stages)]), tmp_path / f"r{i}", plots=False))
    assert cli(["leaderboard", "diff", str(builds[0]), str(builds[1])]) == 0  # only latency moved
    assert cli(["leaderboard", "diff", str(builds[0]), str(builds[1]), "--with-latency"]) == 1
    assert cli(["leaderboard", "diff", str(builds[0]), str(builds[2] / "leaderboard.json")]) == 1
    assert "/gradient/insertion_auc:" in capsys.readouterr().out
