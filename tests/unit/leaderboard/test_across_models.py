"""Explainers' faithfulness standing across recommenders: the overview and the site's model sections."""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
from pathlib import Path

import pytest

from xrec_bench.leaderboard.overview import across_models
from xrec_bench.leaderboard.plots import ranks_across_models_png
from xrec_bench.leaderboard.site import publish

RESULTS = Path(__file__).resolve().parents[3] / "results"
SPECS = {"f": {"group": "faithfulness"}, "g": {"group": "faithfulness"}}


def _e(mean):
    return {"mean": mean, "low": mean - 0.01, "high": mean + 0.01, "n": 50, "marks": "", "best": False}


def _table(model, means, dataset="d", granularity="history"):
    return {"dataset": dataset, "granularity": granularity, "model": model, "metrics": ["f", "g"],
            "higher_is_better": {"f": True, "g": True},
            "rows": [{"explainer": x, "status": "ok", "metrics": {"f": _e(m), "g": _e(m)}} for x, m in means.items()]}


def test_places_per_model_and_kendall_tau():
    a = _table("m1", {"x": 0.9, "y": 0.5, "z": 0.1, "w": 0.3})
    b = _table("m2", {"x": 0.1, "y": 0.5, "z": 0.9, "w": 0.7})  # the reverse order
    c = _table("m3", {"x": 0.9, "y": 0.5, "z": 0.1})  # w not explained on m3
    only = _table("m1", {"x": 0.9, "y": 0.1}, granularity="tokens")  # one model: no comparison
    views = across_models([a, b, c, only], SPECS)
    assert len(views) == 1
    v = views[0]
    assert (v.dataset, v.granularity, v.models) == ("d", "history", ("m1", "m2", "m3"))
    assert v.places["x"]["m1"].rank == 1 and v.places["x"]["m2"].rank == 4 and v.places["x"]["m3"].rank == 1
    assert "m3" not in v.places["w"]
    assert v.tau[("m1", "m2")] == pytest.approx(-1.0) and v.shared[("m1", "m2")] == 4
    assert v.tau[("m1", "m3")] == pytest.approx(1.0) and v.shared[("m1", "m3")] == 3
    assert ranks_across_models_png(v)[:8] == b"\x89PNG\r\n\x1a\n"


def test_tau_needs_three_shared_explainers():
    v = across_models([_table("m1", {"x": 0.9, "y": 0.1}), _table("m2", {"x": 0.1, "y": 0.9})], SPECS)[0]
    assert math.isnan(v.tau[("m1", "m2")]) and v.shared[("m1", "m2")] == 2


@pytest.mark.skipif(not (RESULTS / "quick" / "v3" / "leaderboard.json").is_file(), reason="results/quick/v3 is not here")
def test_site_has_model_sections_and_the_across_models_overview(tmp_path):
    folder = tmp_path / "results" / "quick" / "v3"
    folder.mkdir(parents=True)
    board = json.loads((RESULTS / "quick" / "v3" / "leaderboard.json").read_text())
    twins = []
    for t in board["tables"]:
        twin = copy.deepcopy(t)
        twin["model"] = "other-model"
        twins.append(twin)
    board["tables"] += twins
    (folder / "leaderboard.json").write_text(json.dumps(board))
    for f in (RESULTS / "quick" / "v3").glob("*.md"):
        shutil.copyfile(f, folder / f.name)
    publish(tmp_path / "results", tmp_path / "site")
    page = (tmp_path / "site" / "quick" / "v3" / "index.html").read_text()
    assert 'href="#model-bert-two-tower"' in page and 'id="model-bert-two-tower"' in page
    assert 'id="model-other-model"' in page and 'id="across-models"' in page
    assert page.index('id="model-bert-two-tower"') < page.index('id="model-other-model"')
    assert len(re.findall(r'<table class="across"', page)) == len(twins)
    assert "bert-two-tower vs other-model 1.000 (n" in page  # identical tables: the same order
    assert 'alt="faithfulness place per model' in page


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_the_published_quick_explains_three_models_and_compares_them(tmp_path, version):
    if not (RESULTS / "quick" / version / "leaderboard.json").is_file():
        pytest.skip(f"results/quick/{version} is not here")
    folder = tmp_path / "results" / "quick" / version
    shutil.copytree(RESULTS / "quick" / version, folder, ignore=shutil.ignore_patterns("records"))
    board = json.loads((folder / "leaderboard.json").read_text())
    views = across_models(board["tables"], board["metric_specs"])
    assert {(v.dataset, v.granularity) for v in views} == {
        (d, "history") for d in ("synthetic", "movielens-100k", "amazon-magazine")}
    assert all(v.models == ("bert-two-tower", "item-knn", "sasrec") for v in views)
    publish(tmp_path / "results", tmp_path / "site")
    page = (tmp_path / "site" / "quick" / version / "index.html").read_text()
    for model in ("bert-two-tower", "item-knn", "sasrec"):
        assert f'id="model-{model}"' in page
    assert 'id="across-models"' in page
