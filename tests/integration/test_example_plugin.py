"""The example plugin package (examples/xrec_bench_example_plugin) end to end, on the real pipeline
(synthetic data, the zero-shot text model, history granularity): named by ``module:Class`` in a
suite run by ``xrec-bench run``, installed (a simulated dist-info) and named by its entry point,
explained by ``xrec-bench explain``, and scored by ``xrec_bench.evaluate``; its leaderboard rows
say it is a plugin, with package and version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import xrec_bench
from tests.helpers.plugin_pkg import ENTRY, EXAMPLE, METRIC_ENTRY, fake_install, fresh_entry_points
from xrec_bench.cli import main as cli
from xrec_bench.explainers.base import EXPLAINERS
from xrec_bench.harness import fingerprint
from xrec_bench.io import read_json
from xrec_bench.metrics.base import METRICS as METRIC_REGISTRY

pytestmark = pytest.mark.slow

DATA = {"n_users": 60, "n_items": 60, "min_length": 4, "max_length": 10}
METRICS = ["deletion_auc", "insertion_auc", "gt_ap", "n_evals"]
SUITE = """
name = "plugin-demo"
version = 1
seed = 5
seeds = [0]
granularities = ["history"]
explainers = [{explainers}]
metrics = {metrics}
targets = "test-item"

[users]
history = 20

[timing]
blocks = 0

[[datasets]]
name = "synthetic"
options = {{ n_users = 60, n_items = 60, min_length = 4, max_length = 10 }}

[[models]]
name = "zero-shot-text"
"""


@pytest.fixture
def env(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "plugin-cache"  # shared: the dataset and encodings once
    monkeypatch.setenv("XREC_BENCH_DATA", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    fresh_entry_points(monkeypatch, EXPLAINERS)
    fresh_entry_points(monkeypatch, METRIC_REGISTRY)


def _suite(tmp_path, explainers: str):
    path = tmp_path / "plugin-demo.toml"
    path.write_text(SUITE.format(explainers=explainers, metrics=json.dumps(METRICS)))
    return path


def _values(cell):
    """Per-user metric values, less the measured wall time (it differs run to run)."""
    return {k: v for k, v in cell["metrics"].items() if k != "wall_time_s"}


def _cells(runs):
    return {c["key"]["explainer"]: c for c in read_json(runs / "record.json")["cells"] if c["kind"] == "explainer"}


def test_suite_names_plugin_by_import_path(env, tmp_path, capsys, monkeypatch):
    suite, runs, results = _suite(tmp_path, f'"{ENTRY}", "random"'), tmp_path / "runs", tmp_path / "results"
    assert cli(["run", "--suite", str(suite), "--out", str(runs), "--no-progress"]) == 0
    assert "3 cells, 3 computed, 0 from cache; 3 ok" in capsys.readouterr().out
    cells = _cells(runs)
    plugin = {"package": "xrec_bench_example_plugin", "version": "0.1.0", "entry": ENTRY}
    assert cells["recency"]["plugin"] == plugin and "plugin" not in cells["random"]
    assert cells["recency"]["explainer_flags"]["model_blind"] is True
    assert len(cells["recency"]["users"]) == 20 and cells["recency"]["metrics"]["n_evals"] == [0.0] * 20

    assert cli(["leaderboard", "build", "--runs", str(runs), "--out", str(results)]) == 0
    md = (results / "plugin-demo" / "v1" / "synthetic__zero-shot-text__history.md").read_text()
    assert "| recency (data baseline) (plugin xrec_bench_example_plugin 0.1.0) | 20 / 20 |" in md
    board = read_json(results / "plugin-demo" / "v1" / "leaderboard.json")
    rows = {r["explainer"]: r for t in board["tables"] for r in t["rows"]}
    assert rows["recency"]["plugin"] == plugin and rows["random"]["plugin"] is None
    csv = (results / "plugin-demo" / "v1" / "synthetic__zero-shot-text__history.csv").read_text()
    assert "xrec_bench_example_plugin 0.1.0" in csv
    from xrec_bench.leaderboard.site import publish

    publish(results, tmp_path / "site", plots=False)
    page = (tmp_path / "site" / "plugin-demo" / "v1" / "index.html").read_text()
    assert ">plugin xrec_bench_example_plugin 0.1.0</span>" in page

    # editing the plugin's code recomputes its cell and nothing else
    real = fingerprint.module_sources

    def edited(module):
        return "edited" if module == "xrec_bench_example_plugin" else real(module)

    monkeypatch.setattr(fingerprint, "module_sources", edited)
    assert cli(["run", "--suite", str(suite), "--out", str(runs), "--no-progress"]) == 0
    assert "3 cells, 1 computed, 2 from cache" in capsys.readouterr().out
    assert _values(_cells(runs)["recency"]) == _values(cells["recency"])


def test_installed_plugin_by_entry_point(env, tmp_path, capsys, monkeypatch):
    site = tmp_path / "site"
    fake_install(site)  # what `pip install examples/xrec_bench_example_plugin` leaves in site-packages
    monkeypatch.syspath_prepend(str(site))
    suite, runs, results = _suite(tmp_path, '"recency"'), tmp_path / "runs", tmp_path / "results"
    assert cli(["run", "--suite", str(suite), "--out", str(runs), "--no-progress"]) == 0
    assert _cells(runs)["recency"]["plugin"] == {"package": "xrec-bench-example-plugin", "version": "0.1.0",
                                                 "entry": ENTRY}
    assert cli(["leaderboard", "build", "--runs", str(runs), "--out", str(results)]) == 0
    md = (results / "plugin-demo" / "v1" / "synthetic__zero-shot-text__history.md").read_text()
    assert "recency (data baseline) (plugin xrec-bench-example-plugin 0.1.0)" in md
    capsys.readouterr()

    assert cli(["explain", "--dataset", "synthetic", "--model", "zero-shot-text", "--granularity", "history",
                "--explainer", "recency", "--user", "u00001", "--param", "decay=0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    scores = [f["score"] for f in sorted(out["features"], key=lambda f: f["position"])]
    assert out["explainer"] == "recency" and out["status"] == "ok"
    assert scores[-2:] == [0.5, 1.0]  # the latest history item first, then halving


def test_python_api_matches_the_suite_cell(env, tmp_path, capsys):
    from xrec_bench_example_plugin.explainers import RecencyExplainer

    runs = tmp_path / "runs"
    assert cli(["run", "--suite", str(_suite(tmp_path, f'"{ENTRY}"')), "--out", str(runs), "--no-progress"]) == 0
    suite_cell = _cells(runs)["recency"]
    common = {"dataset": "synthetic", "model": "zero-shot-text", "users": 20, "granularity": "history",
              "metrics": METRICS, "seed": 5, "dataset_options": DATA, "targets": "test-item",
              "timing": {"blocks": 0}}
    by_class = xrec_bench.evaluate(RecencyExplainer, out=tmp_path / "api-class", **common)
    by_object = xrec_bench.evaluate(RecencyExplainer(decay=0.8), out=tmp_path / "api-object", **common)
    by_name = xrec_bench.evaluate(ENTRY, out=tmp_path / "api-name", **common)
    for result in (by_class, by_object, by_name):
        (cell,) = result.cells
        assert cell["status"] == "ok" and cell["key"]["explainer"] == "recency"
        assert cell["users"] == suite_cell["users"] and _values(cell) == _values(suite_cell)
        assert cell["plugin"]["package"] == "xrec_bench_example_plugin" and cell["plugin"]["version"] == "0.1.0"
    results = tmp_path / "results"
    assert cli(["leaderboard", "build", "--runs", str(by_object.record_path), "--out", str(results)]) == 0
    assert "(plugin xrec_bench_example_plugin 0.1.0)" in (results / "api" / "v1" / "README.md").read_text() + \
        (results / "api" / "v1" / "synthetic__zero-shot-text__history.md").read_text()


def test_python_api_refuses_bad_input(env):
    from xrec_bench.harness.suite import SuiteError

    with pytest.raises(TypeError, match="must be a name"):
        xrec_bench.evaluate(42)
    with pytest.raises(SuiteError, match="no_such_pkg_xyz"):
        xrec_bench.evaluate("no_such_pkg_xyz:Cls", model="zero-shot-text")


def test_pip_installed_plugin_in_a_fresh_venv(env, tmp_path):
    """A fresh virtual environment (``python -m venv``) whose one own package is the example plugin, installed
    by that venv's pip from a wheel (offline, no dependencies); xrec-bench and its dependencies come from the
    test environment through a ``.pth`` file. ``xrec-bench run`` in the venv's interpreter knows the plugin
    by its entry point alone, and the built leaderboard marks its rows with the plugin's provenance."""
    import os
    import shutil
    import subprocess
    import sys
    import sysconfig

    source, dist, venv = tmp_path / "src", tmp_path / "dist", tmp_path / "venv"
    shutil.copytree(EXAMPLE, source)  # build here: nothing is written into the repository
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "--quiet", "-w", str(dist), str(source)], capture_output=True, text=True)
    if wheel.returncode != 0:
        pytest.skip(f"cannot build the example offline here (needs pip and setuptools): {wheel.stderr[-300:]}")
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a venv here: {made.stderr[-300:]}")
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parents = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(purelib) / "_test_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in parents))
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                              *map(str, dist.glob("*.whl"))], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run([str(python), "-m", "pip", "list", "--path", purelib], capture_output=True, text=True)
    assert "xrec-bench-example-plugin" in listed.stdout  # installed in the venv itself, not found elsewhere
    suite, runs, results = _suite(tmp_path, '"recency"'), tmp_path / "runs", tmp_path / "results"
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    child_env["PYTHONPATH"] = str(EXAMPLE.parents[1])  # this checkout's xrec_bench, as the tests use it
    code = "import sys; from xrec_bench.cli import main; sys.exit(main(sys.argv[1:]))"
    for args in (["run", "--suite", str(suite), "--out", str(runs), "--no-progress"],
                 ["leaderboard", "build", "--runs", str(runs), "--out", str(results)]):
        done = subprocess.run([str(python), "-c", code, *args], env=child_env, capture_output=True, text=True,
                              cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
    assert _cells(runs)["recency"]["plugin"] == {"package": "xrec-bench-example-plugin", "version": "0.1.0",
                                                 "entry": ENTRY}
    md = (results / "plugin-demo" / "v1" / "synthetic__zero-shot-text__history.md").read_text()
    assert "| recency (data baseline) (plugin xrec-bench-example-plugin 0.1.0) | 20 / 20 |" in md


def _recency_shares(k: int, decay: float = 0.8, longest: int = 40) -> list[float]:
    """top_k_share of the recency explainer for every history length: its scores are decay**(n-1..0)."""
    return [sum(decay**i for i in range(min(k, n))) / sum(decay**i for i in range(n)) for n in range(1, longest)]


def test_plugin_metric_named_by_import_path(env, tmp_path, capsys, monkeypatch):
    suite = tmp_path / "plugin-demo.toml"
    suite.write_text(SUITE.format(explainers=f'"{ENTRY}", "random"', metrics=json.dumps(["deletion_auc", METRIC_ENTRY]))
                     + "\n[metric_options]\nextra = { k = 2 }\n")
    runs, results = tmp_path / "runs", tmp_path / "results"
    assert cli(["run", "--suite", str(suite), "--out", str(runs), "--no-progress"]) == 0
    assert "3 cells, 3 computed, 0 from cache; 3 ok" in capsys.readouterr().out
    cells, record = _cells(runs), read_json(runs / "record.json")
    provenance = {"package": "xrec_bench_example_plugin", "version": "0.1.0", "entry": METRIC_ENTRY}
    for cell in cells.values():
        assert cell["metric_plugins"] == {METRIC_ENTRY: provenance}
        assert len(cell["metrics"]["top_k_share"]) == 20
        assert all(0 < v <= 1 for v in cell["metrics"]["top_k_share"])
    shares = _recency_shares(k=2)  # its parameter k = 2 reached it through [metric_options] extra (10 digits kept)
    assert all(min(abs(v - s) for s in shares) < 1e-9 for v in cells["recency"]["metrics"]["top_k_share"])
    spec = record["metric_specs"]["top_k_share"]
    assert spec["group"] == "complexity" and spec["higher_is_better"] is True

    # the plugin metric reads the explanation only: built-in values are those of a suite without it
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "plugin-demo.toml").write_text(SUITE.format(explainers='"random"', metrics=json.dumps(["deletion_auc"])))
    assert cli(["run", "--suite", str(alone / "plugin-demo.toml"), "--out", str(tmp_path / "runs-alone"),
                "--no-progress"]) == 0
    plain = _cells(tmp_path / "runs-alone")["random"]
    assert plain["metrics"]["deletion_auc"] == cells["random"]["metrics"]["deletion_auc"]
    assert "metric_plugins" not in plain

    assert cli(["leaderboard", "build", "--runs", str(runs), "--out", str(results)]) == 0
    assert "top_k_share" in (results / "plugin-demo" / "v1" / "synthetic__zero-shot-text__history.md").read_text()

    # editing the metric plugin's package recomputes every cell that computed it (the accuracy cell stays)
    real = fingerprint.module_sources
    monkeypatch.setattr(fingerprint, "module_sources",
                        lambda module: "edited" if module == "xrec_bench_example_plugin" else real(module))
    capsys.readouterr()
    assert cli(["run", "--suite", str(suite), "--out", str(runs), "--no-progress"]) == 0
    assert "3 cells, 2 computed, 1 from cache" in capsys.readouterr().out


def test_installed_plugin_metric_by_entry_point(env, tmp_path, capsys, monkeypatch):
    site = tmp_path / "site"
    fake_install(site, metrics={"concentration": METRIC_ENTRY})
    monkeypatch.syspath_prepend(str(site))
    assert cli(["metrics", "list"]) == 0
    listed = capsys.readouterr().out
    assert "concentration" in listed and "plugin xrec-bench-example-plugin 0.1.0" in listed
    assert cli(["metrics", "info", "concentration", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"]["k"] == {"default": 3, "accepts": "an int in the range [1, inf)",
                                   "help": "how many top-ranked features count"}
    assert info["outputs"][0]["name"] == "top_k_share" and info["capabilities"]["needs"] == []

    runs = tmp_path / "runs"
    assert cli(["run", "--suite", str(_suite(tmp_path, '"recency"').parent / "plugin-demo.toml"), "--out", str(runs),
                "--no-progress"]) == 0  # a suite without the metric: no plugin provenance
    assert "metric_plugins" not in _cells(runs)["recency"]
    suite = tmp_path / "with-metric.toml"
    suite.write_text(SUITE.format(explainers='"recency"', metrics=json.dumps(["deletion_auc", "concentration"])))
    assert cli(["run", "--suite", str(suite), "--out", str(tmp_path / "runs2"), "--no-progress"]) == 0
    cell = _cells(tmp_path / "runs2")["recency"]
    assert cell["metric_plugins"] == {"concentration": {"package": "xrec-bench-example-plugin", "version": "0.1.0",
                                                        "entry": METRIC_ENTRY}}
    shares = _recency_shares(k=3)  # the declared default
    assert all(min(abs(v - s) for s in shares) < 1e-9 for v in cell["metrics"]["top_k_share"])


def test_broken_plugin_metric_is_refused_before_anything_runs(env, tmp_path, capsys):
    suite = tmp_path / "plugin-demo.toml"
    suite.write_text(SUITE.format(explainers='"random"', metrics=json.dumps(["xrec_bench_example_plugin.metrics:Nope"])))
    assert cli(["run", "--suite", str(suite), "--out", str(tmp_path / "runs"), "--no-progress"]) != 0
    err = capsys.readouterr().err
    assert "has no attribute 'Nope'" in err and "Concentration" in err
