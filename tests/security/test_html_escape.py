"""Attack: markup in any field that reaches the leaderboard page. Fields are type-checked when a
record is read (see test_names_record.py); the page escapes every one it prints, as a second wall."""

from __future__ import annotations

import json

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, FakeStages, fake_catalog
from xrec_bench.harness.runner import run_suite
from xrec_bench.harness.suite import load_suite
from xrec_bench.leaderboard.html import render_page
from xrec_bench.leaderboard.load import Board, load_board
from xrec_bench.leaderboard.tables import build_tables

PAYLOAD = "1<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    path = tmp / "fake.toml"
    path.write_text(FAKE_SUITE_TOML, encoding="utf-8")
    run_suite(load_suite(path, catalog=fake_catalog()), tmp / "run", stages=FakeStages(), progress=False, users_override=5)
    return load_board([tmp / "run"])


def test_markup_in_suite_fields_and_runs_is_escaped_on_the_page(board):
    runs = [{**board.runs[0], "run_id": "<script>alert(2)</script>",
             "environment": {"device": "<iframe src=//x>"}}]
    forged = Board({**board.suite, "name": "<b>n</b>", "version": PAYLOAD}, board.config_hash, board.datasets,
                   board.models, board.metric_specs, board.cells, runs)
    page = render_page(forged, build_tables(forged), plots=False)
    for raw in (PAYLOAD, "<script>alert(2)", "<iframe", "<b>n</b>"):
        assert raw not in page
    assert "1&lt;img src=x onerror=alert(1)&gt;" in page


def test_markup_in_a_failure_reason_is_escaped(board):
    cells = [dict(c) for c in board.cells]
    target = next(c for c in cells if c["key"]["explainer"] != "-")
    target.update(status="failed", reason="<script>alert(3)</script>", metrics={})
    forged = Board(board.suite, board.config_hash, board.datasets, board.models, board.metric_specs, cells, board.runs)
    page = render_page(forged, build_tables(forged), plots=False)
    assert "<script>alert(3)" not in page and "&lt;script&gt;alert(3)" in page
    json.dumps(page)  # the page is plain text
