"""The static page renders offline in headless Chromium: sortable tables ready, plots decoded."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.helpers.fake_stages import FakeStages
from xrec_bench.cli import main as cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
def test_page_is_self_contained_and_renders_in_headless_chromium(run, tmp_path):
    out = tmp_path / "results"
    assert cli(["leaderboard", "build", "--runs", str(run(FakeStages())), "--out", str(out)]) == 0
    page = out / "fake" / "v1" / "index.html"
    html = page.read_text()
    assert not re.search(r"""(src|href)=["']https?://""", html)  # nothing from the network
    assert html.count('<table class="sortable') == 8 and html.count("data:image/png;base64,") == 8
    if CHROMIUM is None:
        pytest.skip("headless chromium is not installed (Debian package 'chromium'); static checks passed")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    # the inline script ran: every table got its sorter, and the images were decoded with a real size
    assert len(re.findall(r'<table class="sortable[^"]*"[^>]*data-sortable-ready="true"', dom)) == 8
    assert 'data-images-checked="true"' in dom
    sizes = [(int(w), int(h)) for w, h in re.findall(r'data-natural-width="(\d+)" data-natural-height="(\d+)"', dom)]
    assert len(sizes) == 8 and all(w > 100 and h > 100 for w, h in sizes)


def test_leaderboard_show_prints_markdown(run, capsys):
    out = run(FakeStages())
    assert cli(["leaderboard", "show", str(out), "--dataset", "toy-b", "--granularity", "tokens"]) == 0
    text = capsys.readouterr().out
    assert "## toy-b · tokens · explaining fake-two-tower" in text and "toy-a" not in text
    assert cli(["leaderboard", "show", str(out), "--dataset", "nope"]) == 2
