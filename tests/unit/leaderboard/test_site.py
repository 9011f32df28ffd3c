"""The published site: overview standings, version index, changelog, raw files, escaping, a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from xrec_bench.cli import main as cli
from xrec_bench.leaderboard.overview import LOW_N, rank_range, standings
from xrec_bench.leaderboard.site import changelog_entries, default_changelog, discover, publish

REPO = Path(__file__).resolve().parents[3]
RESULTS = REPO / "results"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_results = pytest.mark.skipif(not (RESULTS / "quick" / "v2" / "leaderboard.json").is_file(),
                                   reason="results/quick/v2 is not here")


def _e(mean, low, high, n=50, marks="", best=False):
    return {"mean": mean, "low": low, "high": high, "n": n, "marks": marks, "best": best}


def test_rank_range_keeps_ties_and_orders_separated_values():
    a, b, c = _e(0.9, 0.8, 1.0), _e(0.85, 0.75, 0.95), _e(0.2, 0.1, 0.3)
    assert rank_range(a, [b, c], True) == (1, 2)  # a and b overlap: either can be first
    assert rank_range(b, [a, c], True) == (1, 2)
    assert rank_range(c, [a, b], True) == (3, 3)
    assert rank_range(c, [a, b], False) == (1, 1)  # lower is better


def test_standings_per_group_count_marks_and_flag_low_n():
    specs = {"f1": {"group": "faithfulness"}, "f2": {"group": "faithfulness"}, "cost": {"group": "cost"},
             "hit": {"group": "accuracy"}}
    table = {"metrics": ["f1", "f2", "cost"], "higher_is_better": {"f1": True, "f2": True, "cost": False}, "rows": [
        {"explainer": "a", "status": "ok", "metrics": {"f1": _e(0.9, 0.8, 1.0, best=True), "f2": _e(0.5, 0.4, 0.6, marks="†"),
                                                       "cost": _e(10, 9, 11)}},
        {"explainer": "random", "status": "ok", "metrics": {"f1": _e(0.1, 0.0, 0.2, n=LOW_N - 1), "f2": _e(0.6, 0.5, 0.7, best=True),
                                                            "cost": _e(1, 0.9, 1.1, best=True)}},
        {"explainer": "broken", "status": "failed", "reason": "x", "metrics": {}},
    ]}
    s = standings(table, specs)
    assert set(s) == {"a", "random"} and set(s["a"]) == {"faithfulness", "cost"}  # accuracy is not an explainer group
    fa = s["a"]["faithfulness"]
    assert (fa.metrics, fa.top, fa.rank, fa.rank_low, fa.rank_high) == (2, 2, 1.5, 1.0, 1.5)
    assert not fa.low_n and s["random"]["faithfulness"].low_n and s["random"]["faithfulness"].n_min == LOW_N - 1
    assert s["a"]["cost"].rank == 2 and s["random"]["cost"].top == 1


def test_shipped_changelog_has_every_released_version_and_v3():
    from xrec_bench.harness.suite import read_lock

    entries = changelog_entries(default_changelog())
    for key in [*read_lock(), ("quick", 3)]:
        assert entries.get(key), f"benchmarks/suites/CHANGELOG.md lacks a '## {key[0]} v{key[1]}' section"
    assert "Benjamini" in entries[("quick", 3)]


def _results_copy(tmp_path, versions=("v1", "v2")) -> Path:
    out = tmp_path / "results"
    for v in versions:
        (out / "quick" / v).mkdir(parents=True)
        for f in (RESULTS / "quick" / v).iterdir():
            if f.is_file() and f.suffix in (".json", ".csv", ".md"):
                shutil.copyfile(f, out / "quick" / v / f.name)
    return out


@needs_results
def test_publish_writes_index_newest_first_pages_raw_files_and_changes(tmp_path):
    results = _results_copy(tmp_path)
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# x\n\n## quick v2\n\n- more users <b>now</b>\n  and tighter CIs\n\n## quick v1\n\nfirst\n")
    assert cli(["leaderboard", "publish", "--results", str(results), "--out", str(tmp_path / "site"),
                "--changelog", str(changelog), "--no-plots"]) == 0
    site = tmp_path / "site"
    index = (site / "index.html").read_text()
    assert index.index('href="quick/v2/index.html"') < index.index('href="quick/v1/index.html"')
    assert "<li>more users &lt;b&gt;now&lt;/b&gt; and tighter CIs</li>" in index  # escaped, continuation joined
    page = (site / "quick" / "v2" / "index.html").read_text()
    board = json.loads((results / "quick" / "v2" / "leaderboard.json").read_text())
    for t in board["tables"]:
        slug = f"{t['dataset']}__{t['model']}__{t['granularity']}"
        assert f'id="overview-{slug}"' in page and f'id="{slug}"' in page
        assert (site / "quick" / "v2" / f"{slug}.csv").is_file() and f'href="{slug}.csv"' in page
    assert (site / "quick" / "v2" / "leaderboard.json").read_bytes() == (results / "quick" / "v2" / "leaderboard.json").read_bytes()
    assert 'href="../v1/index.html"' in page and "users per granularity: {&#x27;history&#x27;: 40" in page
    assert "v1" in (site / "quick" / "v1" / "index.html").read_text() and "First version of quick" in (
        site / "quick" / "v1" / "index.html").read_text()
    # every cell shows its n, and each metric header its description
    n_cells = sum(len(r["metrics"]) for t in board["tables"] for r in t["rows"] if r["status"] == "ok")
    assert len(re.findall(r'<span class="n">n=\d+</span>', page)) == n_cells
    assert board["metric_specs"]["insertion_auc"]["description"][:40] in page
    assert not re.search(r"""(src|href)=["']https?://""", page)
    assert 'href="quick/v2/synthetic__bert-two-tower__tokens.csv"' in index
    # every link of every page resolves to a file of the site (anchors to an id on the page)
    for html_file in site.rglob("*.html"):
        text = html_file.read_text()
        for href in re.findall(r'href="([^"]+)"', text):
            path, _, anchor = href.partition("#")
            target = (html_file.parent / path) if path else html_file
            assert target.is_file(), f"{html_file}: broken link {href}"
            if anchor:
                assert f'id="{anchor}"' in target.read_text(), f"{html_file}: no id {anchor} in {target}"


@needs_results
def test_strings_from_results_are_escaped(tmp_path):
    results = _results_copy(tmp_path, ("v2",))
    path = results / "quick" / "v2" / "leaderboard.json"
    board = json.loads(path.read_text())
    board["tables"][0]["rows"][0].update(status="failed", reason="<script>alert(1)</script>")
    path.write_text(json.dumps(board))
    publish(results, tmp_path / "site", plots=False)
    page = (tmp_path / "site" / "quick" / "v2" / "index.html").read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_discover_refuses_a_folder_holding_another_version(tmp_path):
    (tmp_path / "quick" / "v7").mkdir(parents=True)
    board = {"schema_version": 1, "kind": "leaderboard", "cells": [], "tables": [], "suite": {"name": "quick", "version": 2}}
    (tmp_path / "quick" / "v7" / "leaderboard.json").write_text(json.dumps(board))
    with pytest.raises(ValueError, match="does not hold the leaderboard of quick v7"):
        discover(tmp_path)
    with pytest.raises(FileNotFoundError, match="No results folder"):
        discover(tmp_path / "nope")


@pytest.mark.browser
@pytest.mark.slow
@needs_results
def test_site_renders_in_headless_chromium_without_console_errors(tmp_path):
    results = _results_copy(tmp_path, ("v1", "v2"))
    publish(results, tmp_path / "site")
    if CHROMIUM is None:
        pytest.skip("headless chromium is not installed (Debian package 'chromium')")

    def render(page: Path) -> tuple[str, str]:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=180, check=True)
        return done.stdout, "\n".join(line for line in done.stderr.splitlines() if "CONSOLE" in line)

    dom, console = render(tmp_path / "site" / "index.html")
    assert console == ""
    assert 'data-ready="true"' in dom and re.search(r'<table class="versions" id="versions-quick">', dom)
    assert dom.index("quick v2</a>") < dom.index("quick v1</a>")

    dom, console = render(tmp_path / "site" / "quick" / "v2" / "index.html")
    assert console == "" and "data-js-errors" not in dom
    assert re.search(r'<body[^>]*data-ready="true"', dom)  # the script ran to the end and the load event fired
    assert len(re.findall(r'<table class="overview"', dom)) == 6
    assert len(re.findall(r'<table class="board" id="table-\d+" data-ready="true"', dom)) == 6
    widths = [int(w) for w in re.findall(r'<img class="plot"[^>]*data-natural-width="(\d+)"', dom)]
    assert len(widths) >= 6 and all(w > 100 for w in widths)  # the plots decoded
