"""scripts/ci-gate.sh, the CI recipe: no baseline -> clear failure; clean re-run -> PASSED; regression -> FAILED."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ci-gate.sh"


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "fake.toml").write_text(FAKE_SUITE_TOML, encoding="utf-8")
    bench = tmp_path / "bench"
    bench.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tests.helpers.fake_bench "$@"\n', encoding="utf-8")
    bench.chmod(0o755)
    return tmp_path


def _script(workdir: Path, knobs: dict | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "XREC_BENCH": str(workdir / "bench"), "PYTHONPATH": str(ROOT),
               "GITHUB_STEP_SUMMARY": str(workdir / "summary.md"), "FAKE_KNOBS": json.dumps(knobs or {}), **env}
    return subprocess.run(["bash", str(SCRIPT), "fake.toml"], cwd=workdir, env=environ, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_ci_gate_script(workdir):
    missing = _script(workdir)
    assert missing.returncode == 3, missing.stderr
    assert "no baseline for suite fake v1: results/fake/v1/leaderboard.json does not exist" in missing.stderr
    assert "NO BASELINE" in (workdir / "summary.md").read_text()

    # the committed baseline: a run of the suite, built into results/<suite>/v<version>/
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAKE_KNOBS": "{}"}
    for argv in (["run", "--suite", "fake.toml", "--out", "base"], ["leaderboard", "build", "--runs", "base", "--out", "results"]):
        subprocess.run([str(workdir / "bench"), *argv], cwd=workdir, env=env, check=True, capture_output=True, timeout=600)
    assert (workdir / "results" / "fake" / "v1" / "leaderboard.json").is_file()

    (workdir / "summary.md").unlink()
    clean = _script(workdir)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    summary = (workdir / "summary.md").read_text()
    assert summary.startswith("## xrec-bench gate: PASSED") and "quality metrics compared exactly" in summary
    assert (workdir / "runs" / "fake" / "gate-summary.md").read_text() == summary  # the artifact holds it too

    (workdir / "summary.md").unlink()
    regressed = _script(workdir, {"shuffle": {"oracle": 0.3}}, XREC_GATE_OUT="runs/regressed")
    assert regressed.returncode == 1
    summary = (workdir / "summary.md").read_text()
    assert summary.startswith("## xrec-bench gate: FAILED") and "oracle" in summary
