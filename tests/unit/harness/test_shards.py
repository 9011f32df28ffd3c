"""User shards in the plan: the shard size changes no cache key, shard ranges cover the users once,
and stages that cannot merge shards run cells whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from xrec_bench.harness.fake import FakeStages
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
