"""User shards in the plan: the shard size changes no cache key, shard ranges cover the users once,
and stages that cannot merge shards run cells whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fake_stages import FakeStages
from xrec_bench.harness.runner import plan, run_suite, shard_jobs
from xrec_bench.harness.stages import LoadedData


def _data(suite):
    return {ds.label: LoadedData(f"fp-{ds.label}", {}, {}) for ds in suite.datasets}


def test_the_shard_size_changes_no_cache_key_and_shards_cover_the_users(suite, tmp_path):
    whole = plan(suite, _data(suite), tmp_path)
    sharded = plan(suite, _data(suite), tmp_path, shard_users=7)
    assert [j.digest for j in whole] == [j.digest for j in sharded]
    assert [j.path for j in whole] == [j.path for j in sharded]
    explain = [j for j in sharded if j.kind == "explainer"]
    assert explain and all(not j.shards for j in whole)
    for job in explain:
        n = job.n_users
        if n <= 7:
            assert job.shards == ()
            continue
        starts = [a for a, _ in job.shards]
        assert starts == list(range(0, n, 7)) and job.shards[-1][1] == n
        assert all(b - a <= 7 for a, b in job.shards)
    shards = shard_jobs(explain)
    assert len(shards) == sum(len(j.shards) for j in explain)
    assert all(s.kind == "shard" and s.digest == next(j.digest for j in explain if j.path == s.path) for s in shards)
    paths = {Path(j.shard_path(*s)) for j in explain for s in j.shards}
    assert len(paths) == len(shards) and all(p.parent.name == "shards" for p in paths)
    assert len({j.shard_digest(*s) for j in explain for s in j.shards}) == len(shards)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_bad_shard_size_is_refused(suite, tmp_path, bad):
    with pytest.raises(ValueError, match="shard_users must be"):
        plan(suite, _data(suite), tmp_path, shard_users=bad)


def test_stages_that_cannot_merge_shards_run_cells_whole(suite, tmp_path):
    assert not FakeStages.shards_users
    ref = run_suite(suite, tmp_path / "a", stages=FakeStages(), progress=False).record
    got = run_suite(suite, tmp_path / "b", stages=FakeStages(), progress=False, shard_users=2).record
    assert [c["metrics"] for c in got["cells"]] == [c["metrics"] for c in ref["cells"]]
    assert not list((tmp_path / "b").rglob("shards"))


# --- the shard flow of the runner and the cells, with stages whose values are per-user ---------------

import json  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

from xrec_bench.harness.executor import get_executor  # noqa: E402
from xrec_bench.harness.stages import CellOutput  # noqa: E402
from xrec_bench.seeding import derive_seed  # noqa: E402


@dataclass
class PerUserStages(FakeStages):
    """Fake stages whose values are a function of (explainer, user, seed) alone, with a shard path and a
    cell-wide value (the mean over the cell, like a batch metric); ``fail_users`` fail their shard."""

    fail_users: set[int] = field(default_factory=set)
    shards_users = True

    def _values(self, explainer, requests, seed):
        users = [int(r.user) for r in requests]
        if self.fail_users & set(users):
            raise OSError(f"planted failure for users {sorted(self.fail_users & set(users))}")
        return {"deletion_auc": np.array([derive_seed(seed, explainer.name, u) % 1000 / 1000 for u in users])}

    def explain(self, data, trained, explainer, requests, *, granularity, seed, metrics, metric_options):
        values = self._values(explainer, requests, seed)
        values["cell_mean"] = np.full(len(requests), values["deletion_auc"].mean())
        return CellOutput([int(r.user) for r in requests], [int(r.target) for r in requests], values)

    def explain_shard(self, data, trained, explainer, requests, *, granularity, seed, metrics, metric_options):
        self._count("shard")
        return {"users": [int(r.user) for r in requests],
                "values": self._values(explainer, requests, seed)["deletion_auc"].tolist()}

    def merge_shards(self, data, trained, explainer, requests, parts, *, granularity, seed, metrics, metric_options):
        values = np.array([v for p in parts for v in p["values"]])
        return CellOutput([u for p in parts for u in p["users"]], [int(r.target) for r in requests],
                          {"deletion_auc": values, "cell_mean": np.full(len(values), values.mean())})

    def metric_spec(self, name):
        return {"higher_is_better": True, "group": "x", "description": "x", "granularity": None}


def _values(record):
    return {str(c["key"]): (c["status"], c["users"], c["metrics"]) for c in record["cells"]}


@pytest.mark.parametrize("executor", ["in-process", "process"])
def test_sharded_cells_merge_into_the_unsharded_values(suite, tmp_path, executor):
    ref = run_suite(suite, tmp_path / "whole", stages=PerUserStages(), progress=False).record
    got = run_suite(suite, tmp_path / "sharded", stages=PerUserStages(), progress=False, shard_users=3,
                    executor=get_executor(executor, workers=2)).record
    assert _values(got) == _values(ref) and got["counts"]["failed"] == 0
    sharded = [c for c in got["cells"] if c.get("shards")]
    assert sharded and all(c["shards"][0] == [0, 3] for c in sharded)
    assert list((tmp_path / "sharded").rglob("shards/*.json"))


def test_a_failed_shard_fails_its_cell_and_a_rerun_computes_only_that_shard(suite, tmp_path):
    out = tmp_path / "run"
    first = run_suite(suite, out, stages=PerUserStages(fail_users={0, 1, 2, 3, 4, 5}), progress=False,
                      shard_users=2).record
    failed = [c for c in first["cells"] if c["status"] == "failed"]
    assert failed and all("of this cell failed: OSError: planted failure" in c["reason"] for c in failed)
    assert all(c["retryable"] for c in failed)  # a damaged-file kind of error: the next run retries it
    shards = {p: json.loads(p.read_text()) for p in out.rglob("shards/*.json")}
    bad = [p for p, s in shards.items() if s["status"] == "failed"]
    assert bad and len(bad) < len(shards)
    stages = PerUserStages()
    again = run_suite(suite, out, stages=stages, progress=False, shard_users=2).record
    ref = run_suite(suite, tmp_path / "ref", stages=PerUserStages(), progress=False).record
    assert _values(again) == _values(ref)
    # only the failed shards were computed again; finished ones were kept as they were
    assert stages.calls["shard"] == len(bad)
    assert all(json.loads(p.read_text()) == s for p, s in shards.items() if s["status"] == "ok")
