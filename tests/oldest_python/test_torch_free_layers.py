"""The oldest Python that pyproject.toml declares, without torch: the torch-free layers import, every
shipped suite validates, a dataset is built and split, and a leaderboard is built from run records.

torch's CPU wheel on these machines is for one interpreter only (and another would pull a multi-GB CUDA
build), so ``scripts/check-oldest-python.sh`` (a step of ``.ci/run``) makes a venv of the oldest declared
Python, installs the package with ``--no-deps`` and only its torch-free dependencies, and runs this file
with ``XREC_BENCH_OLDEST_PYTHON=1``. Anywhere else it is skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.oldest_python,
    pytest.mark.skipif(os.environ.get("XREC_BENCH_OLDEST_PYTHON") != "1",
                       reason="runs in the torch-free venv of scripts/check-oldest-python.sh (.ci/run)"),
]

REPO = Path(__file__).resolve().parents[2]
#: layers (and shared modules) that must import without torch, every module of them
TORCH_FREE_PACKAGES = ("xrec_bench.datasets", "xrec_bench.harness", "xrec_bench.leaderboard", "xrec_bench.cli",
                       "xrec_bench._util")
TORCH_FREE_MODULES = ("xrec_bench", "xrec_bench.registry", "xrec_bench.seeding", "xrec_bench.io", "xrec_bench.paths",
                      "xrec_bench.params", "xrec_bench.api")


def _declared_minimum() -> tuple[int, int]:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)', text, re.M)
    assert found, "pyproject.toml must declare requires-python = \">=X.Y\""
    return int(found.group(1)), int(found.group(2))


def _modules() -> list[str]:
    names = list(TORCH_FREE_MODULES)
    for package in TORCH_FREE_PACKAGES:
        path = REPO / package.replace(".", "/")
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages([str(path)], package + ".")]
    return names


def test_this_is_the_oldest_declared_python_without_torch():
    assert sys.version_info[:2] == _declared_minimum(), (
        f"this check must run on Python {'.'.join(map(str, _declared_minimum()))} (requires-python), "
        f"not {sys.version.split()[0]}")
    assert importlib.util.find_spec("torch") is None, "torch is installed here: the check would prove nothing"


@pytest.mark.parametrize("module", _modules())
def test_module_imports_without_torch(module):
    importlib.import_module(module)
    assert "torch" not in sys.modules


def test_suites_are_read_with_tomli_before_311():
    from xrec_bench.harness import suite

    expected = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    assert suite.tomllib.__name__ == expected


@pytest.mark.parametrize("path", sorted((REPO / "benchmarks" / "suites").glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_suite_validates_and_matches_its_lock(path):
    from xrec_bench.harness.suite import check_locked, load_suite, read_lock

    suite = load_suite(path)
    assert suite.datasets and suite.models and suite.explainers
    assert check_locked(suite, read_lock()) is None  # the same content hash as on the newest Python


@pytest.mark.parametrize("name", ["gate", "quick"])
def test_cli_checks_a_suite(name):
    out = subprocess.run([sys.executable, "-m", "xrec_bench", "run", "--suite", name, "--check"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert f"suite {name} v" in out.stdout and "is valid" in out.stdout


def test_synthetic_dataset_builds_and_splits(tmp_path, monkeypatch):
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path))
    from xrec_bench.datasets import load_dataset, make_split

    ds = load_dataset("synthetic", n_users=60, n_items=40, min_length=4, max_length=8)
    assert ds.n_users == 60 and len(ds.interactions) > 0
    for strategy in ("leave-last-out", "temporal"):
        split = make_split(ds, strategy)
        assert len(split.cases("test").users) > 0


def _numbers(board: dict) -> dict[tuple, float]:
    out = {}
    for t, table in enumerate(board["tables"]):
        for row in table["rows"]:
            for metric, entry in row["metrics"].items():
                for key in ("mean", "low", "high", "n", "p_best", "p_random"):
                    if isinstance(entry, dict) and key in entry:
                        out[(t, row.get("explainer"), metric, key)] = entry[key]
    return out


def test_leaderboard_builds_the_committed_gate_numbers(tmp_path):
    """The gate's committed run records, built into a leaderboard here, give its committed numbers exactly."""
    from xrec_bench.harness.suite import load_suite

    suite = load_suite("gate")
    folder = REPO / "results" / suite.name / f"v{suite.version}"
    if not (folder / "records").is_dir():
        pytest.skip(f"no committed records for {suite.name} v{suite.version} yet (the gate step says how to make them)")
    out = subprocess.run([sys.executable, "-m", "xrec_bench", "leaderboard", "build", "--runs", str(folder / "records"),
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    built = _numbers(json.loads((tmp_path / suite.name / f"v{suite.version}" / "leaderboard.json").read_text()))
    committed = _numbers(json.loads((folder / "leaderboard.json").read_text()))
    assert committed and set(committed) == set(built)
    moved = {k: (committed[k], built[k]) for k in committed
             if not (committed[k] == built[k] or (isinstance(built[k], float) and math.isnan(built[k])
                                                   and isinstance(committed[k], float) and math.isnan(committed[k])))}
    assert not moved, f"numbers differ on Python {sys.version.split()[0]}: {dict(list(moved.items())[:5])}"
