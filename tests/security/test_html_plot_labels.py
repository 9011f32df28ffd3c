"""Attack: a label holding matplotlib mathtext (``$\\frac{x$``) crashed ``leaderboard build``. Labels
from records are slugs now, but the plots draw every text literally whatever reaches them."""

from __future__ import annotations

import dataclasses

import matplotlib
import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, FakeStages, fake_catalog
from xrec_bench.harness.runner import run_suite
from xrec_bench.harness.suite import load_suite
from xrec_bench.leaderboard.load import load_board
from xrec_bench.leaderboard.plots import curves_png, tradeoff_png
from xrec_bench.leaderboard.tables import build_tables

MATHTEXT = "$\\frac{x$"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plots")
    path = tmp / "fake.toml"
    path.write_text(FAKE_SUITE_TOML, encoding="utf-8")
    run_suite(load_suite(path, catalog=fake_catalog()), tmp / "run", stages=FakeStages(), progress=False, users_override=5)
    board = load_board([tmp / "run"])
    table = build_tables(board)[0]
    rows = [dataclasses.replace(r, explainer=f"{MATHTEXT}{i}") for i, r in enumerate(table.rows)]
    return dataclasses.replace(table, rows=rows, dataset=MATHTEXT, model=MATHTEXT), board.metric_specs


def test_mathtext_in_labels_is_drawn_literally(table):
    forged, specs = table
    assert forged.rows
    png = tradeoff_png(forged, specs)
    assert png is None or png.startswith(b"\x89PNG")
    curves = curves_png(forged)
    assert curves is None or curves.startswith(b"\x89PNG")
    assert png is not None or curves is not None, "the fake suite should give at least one plot"
    assert matplotlib.rcParams["text.parse_math"] is True  # the global setting is restored
