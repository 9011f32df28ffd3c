"""Real processes: a run killed with SIGKILL resumes to the same record; two concurrent runs into one
folder do not corrupt each other and compute each cell once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers.fake_stages import FakeStages
from xrec_bench.harness.runner import run_suite
from xrec_bench.io import read_json

SCRIPT = """
import sys
from tests.helpers.fake_stages import FakeStages, fake_catalog
from xrec_bench.harness.runner import run_suite
from xrec_bench.harness.suite import load_suite
suite = load_suite(sys.argv[1], catalog=fake_catalog())
run_suite(suite, sys.argv[2], stages=FakeStages(delay=float(sys.argv[3])), progress=False)
"""


def _spawn(suite_file, out, delay):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(suite_file), str(out), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cells(out):
    return sorted((out / "cells").rglob("*.json"))


def _metrics(record):
    return {json.dumps(c["key"], sort_keys=True): (c["status"], c["metrics"]) for c in record["cells"]}


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_record(suite, suite_file, tmp_path):
    out = tmp_path / "run"
    proc = _spawn(suite_file, out, delay=0.3)
    deadline = time.monotonic() + 120
    while len(_cells(out)) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _cells(out)
    assert 8 <= len(finished) < 24 and all(read_json(p)["status"] for p in finished)  # whole files only
    resumed = run_suite(suite, out, stages=FakeStages(), progress=False).record
    assert resumed["counts"]["cached"] == len(finished) and resumed["counts"]["computed"] == 24 - len(finished)
    reference = run_suite(suite, tmp_path / "ref", stages=FakeStages(), progress=False).record
    assert _metrics(resumed) == _metrics(reference)
    assert len(_cells(out)) == 24


@pytest.mark.slow
def test_two_concurrent_runs_into_one_folder(suite_file, tmp_path):
    out = tmp_path / "shared"
    procs = [_spawn(suite_file, out, delay=0.05) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    records = [read_json(p) for p in sorted((out / "records").glob("*.json"))]
    assert len(records) == 2
    assert _metrics(records[0]) == _metrics(records[1])
    assert sum(r["counts"]["computed"] for r in records) == 24  # each cell computed by one run only
    assert len(_cells(out)) == 24 and all(read_json(p)["cache_key"] for p in _cells(out))
    assert read_json(out / "record.json")["run_id"] in {r["run_id"] for r in records}
