"""``--executor ray`` with user shards on a local Ray cluster: the same per-user values as the
in-process executor without shards, and a driver killed mid-run resumes (cell- and shard-wise) to the
same tables. Skipped when Ray is not installed (``pip install 'xrec-bench[ray]'``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from xrec_bench.harness.executor import InProcessExecutor, get_executor  # noqa: E402
from xrec_bench.harness.runner import run_suite  # noqa: E402
from xrec_bench.harness.stages import RealStages  # noqa: E402
from xrec_bench.harness.suite import load_suite  # noqa: E402

pytestmark = pytest.mark.slow

# batch metrics (sanity, run-to-run) with budgets that cross shard borders; shards of 2 users
SUITE = """
name = "ray-shards"
version = 1
seed = 5
seeds = [0]
granularities = ["history"]
explainers = ["leave-one-out", { name = "lime", params = { n_samples = 20 } }]
metrics = ["deletion_auc", "insertion_auc", "sanity_spearman", "run_kendall_tau", "n_evals", "wall_time_s"]
accuracy_ks = [10]

[users]
history = 5

[metric_options]
sanity_users = 3
stability_users = 3

[timing]
blocks = 0

[[datasets]]
name = "synthetic"
options = { n_users = 50, n_items = 50, min_length = 4, max_length = 8 }

[[models]]
name = "zero-shot-text"
"""
MEASURED = {"wall_time_s"}  # a measured time, never equal between two runs


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A suite file, a data cache shared by driver and workers, and a local two-CPU Ray cluster."""
    root = tmp_path_factory.mktemp("ray")
    suite = root / "suite.toml"
    suite.write_text(SUITE)
    saved = {k: os.environ.get(k) for k in ("XREC_BENCH_DATA", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update(XREC_BENCH_DATA=str(root / "cache"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # workers inherit this environment
    try:
        yield {"root": root, "suite": suite, "reference": _run(suite, root / "reference"),
               "started": started}
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(suite: Path, out: Path, executor=None, shard_users=None):
    return run_suite(load_suite(suite), out, stages=RealStages(), executor=executor or InProcessExecutor(),
                     progress=False, shard_users=shard_users).record


def _tables(record) -> dict[str, dict]:
    """Per cell: its users, targets, per-user metric values (measured times left out), curves and skips."""
    return {json.dumps(c["key"], sort_keys=True): {
        "status": c["status"], "users": c["users"], "targets": c["targets"], "skipped": c["skipped"],
        "metrics": {k: v for k, v in c["metrics"].items() if k not in MEASURED}, "curves": c["curves"],
        "flags": (c.get("info") or {}).get("flags")} for c in record["cells"]}


def test_ray_with_user_shards_gives_the_in_process_values(env):
    reference = env["reference"]
    assert reference["counts"]["ok"] == 3  # an accuracy cell and two explainer cells
    record = _run(env["suite"], env["root"] / "ray", get_executor("ray", workers=2), shard_users=2)
    assert record["executor"]["kind"] == "ray" and record["counts"]["ok"] == 3
    cells = [c for c in record["cells"] if c["kind"] == "explainer"]
    assert all(c["shards"] == [[0, 2], [2, 4], [4, 5]] for c in cells)
    assert len({c["host_pid"] for c in cells}) >= 1 and all(len(c["users"]) == 5 for c in cells)
    # sanity and run-to-run are computed on the first 3 users: across the first two shards
    assert all(sum(v is not None for v in c["metrics"]["sanity_spearman"]) == 3 for c in cells)
    assert _tables(record) == _tables(reference)
    assert record["suite"]["content_hash"] == reference["suite"]["content_hash"]
    assert record["config_hash"] == reference["config_hash"]
    shards = sorted((env["root"] / "ray" / "cells").rglob("shards/*.json"))
    assert len(shards) == 6
    # a re-run, sharded differently or not at all, reuses every cell
    again = _run(env["suite"], env["root"] / "ray", InProcessExecutor(), shard_users=3)
    assert again["counts"]["computed"] == 0 and _tables(again) == _tables(reference)


DRIVER = """
import sys
from xrec_bench.cli import main
sys.exit(main(["run", "--suite", sys.argv[1], "--out", sys.argv[2], "--executor", "ray", "--workers", "1",
               "--shard-users", "1", "--no-progress"]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL and /proc")
def test_a_killed_ray_driver_resumes_to_the_same_tables(env):
    out = env["root"] / "killed"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "RAY_ADDRESS": ""}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(env["suite"]), str(out)], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and len(list(out.rglob("shards/*.json"))) < 2:
        time.sleep(0.1)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()[1][-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.json")}
    shards_before = [p for p in before if p.parent.name == "shards"]
    assert shards_before and not (out / "record.json").exists()
    assert all(json.loads(p.read_text())["status"] == "ok" for p in before)  # whole files only

    resumed = _run(env["suite"], out, get_executor("ray", workers=2), shard_users=1)
    assert _tables(resumed) == _tables(env["reference"])
    # nothing finished before the kill was computed again: cells and shards kept their files
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())
    assert len(list(out.rglob("shards/*.json"))) == 10  # 2 cells x 5 shards of one user
