"""Fair comparisons in tables: common users, coverage, n per cell, BH correction, data baselines
never crowned, small n never bolded, reference metrics never ranked. Tables built from hand-made cells
whose right answers are known."""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control

from xrec_bench.leaderboard.load import Board
from xrec_bench.leaderboard.tables import NOT_COMPARED, build_tables, common_users
from xrec_bench.leaderboard.write import LEGEND, table_frame, table_markdown
from xrec_bench.metrics.stats import adjust_p_values

SPECS = {
    "score": {"higher_is_better": True, "group": "faithfulness", "description": "", "granularity": None},
    "tiny": {"higher_is_better": True, "group": "faithfulness", "description": "", "granularity": None},
    "coverage": {"higher_is_better": True, "group": "ground-truth", "description": "", "granularity": None,
                 "ranked": False},
}
N = 100


def _cell(explainer: str, metrics: dict[str, np.ndarray], *, blind: bool = False) -> dict:
    return {"kind": "explainer", "status": "ok", "cache_key": explainer,
            "key": {"dataset": "d", "model": "m", "explainer": explainer, "granularity": "history", "seed": 0},
            "users": list(range(N)), "targets": [0] * N, "curves": {},
            "metrics": {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in metrics.items()},
            "explainer_flags": {"model_blind": blind}}


def _only(values: np.ndarray, users) -> np.ndarray:
    out = np.full(N, np.nan)
    out[list(users)] = values[list(users)]
    return out


def _table():
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0.5, 0.05, N)
    difficulty[95:] = -5.0  # five very hard users
    difficulty[:16] += 0.5  # sixteen easy ones
    noise = lambda: rng.normal(0, 0.01, N)  # noqa: E731
    good = difficulty + 0.10 + noise()  # the right answer: best on every user
    worse = difficulty + 0.05 + noise()  # measured all but the five hard users: higher own mean
    easy = difficulty + 0.00 + noise()  # measured only 16 easy users: the highest own mean of all
    blind = difficulty + 0.30 + noise()  # a data baseline, better than everything
    rand = difficulty - 0.20 + noise()
    small = lambda v: _only(v, range(20))  # noqa: E731  (n = 20 < MIN_N)
    cov = np.full(N, 0.5)
    cells = [
        _cell("good", {"score": good, "tiny": small(good), "coverage": cov}),
        _cell("worse", {"score": _only(worse, range(95)), "tiny": small(worse), "coverage": cov}),
        _cell("easy", {"score": _only(easy, range(16)), "tiny": small(easy), "coverage": cov}),
        _cell("similarity", {"score": blind, "tiny": small(blind), "coverage": cov}, blind=True),
        _cell("random", {"score": rand, "tiny": small(rand), "coverage": cov}, blind=True),
    ]
    board = Board({"name": "t", "version": 1, "content_hash": "0" * 64}, "c", {}, [], SPECS, cells)
    (table,) = build_tables(board)
    return table, {r.explainer: r for r in table.rows}


def test_common_users_pick_the_right_best_where_own_means_pick_the_wrong_one():
    table, rows = _table()
    own = {name: r.entries["score"].estimate.mean for name, r in rows.items() if not r.model_blind}
    assert max(own, key=own.get) == "easy" and own["worse"] > own["good"]  # per-row means: wrong
    score = {name: r.entries["score"] for name, r in rows.items()}
    assert score["good"].best and not score["worse"].best and not score["easy"].best
    assert score["good"].n_common == 95 and score["good"].estimate.n == 100  # n: own users, shown
    assert score["worse"].estimate.n == 95 and score["worse"].compared
    assert not score["easy"].compared and score["easy"].marks == NOT_COMPARED and score["easy"].n_common == 0
    assert not score["worse"].tie_best and not score["good"].tie_random  # clear differences


def test_data_baselines_are_marked_and_never_crowned():
    table, rows = _table()
    assert rows["similarity"].model_blind and rows["random"].model_blind and not rows["good"].model_blind
    for r in rows.values():
        if r.model_blind:
            assert not any(e.best for e in r.entries.values())
    assert rows["similarity"].entries["score"].compared  # still compared, just never bolded
    assert rows["similarity"].entries["score"].beats_best and rows["similarity"].entries["score"].marks == "▲"
    assert not rows["random"].entries["score"].beats_best  # worse than the best: no finding
    md = table_markdown(table)
    assert "| similarity (data baseline) |" in md and "| random (data baseline) |" in md


def test_small_n_is_shown_but_never_bolded():
    table, rows = _table()
    tiny = [r.entries["tiny"] for r in rows.values()]
    assert all(e.estimate.n == 20 and np.isfinite(e.estimate.mean) for e in tiny)
    assert not any(e.best for e in tiny) and not any(e.tie_best for e in tiny)


def test_reference_metrics_are_not_ranked():
    table, rows = _table()
    assert table.ranked == {"score": True, "tiny": True, "coverage": False}
    entries = [r.entries["coverage"] for r in rows.values()]
    assert not any(e.best or e.marks for e in entries)
    assert "| coverage |" in table_markdown(table).replace("coverage ↑", "x")  # header has no arrow


def test_n_shown_in_every_cell_and_measured_users_not_requested():
    table, rows = _table()
    md = table_markdown(table)
    assert "n=95" in md and "n=16" in md and "n=20" in md
    assert rows["easy"].n_users == 100 and rows["easy"].n_requested == 100  # coverage is measured everywhere
    frame = table_frame(table).set_index("explainer")
    assert frame.loc["easy", "score_n"] == 16 and frame.loc["good", "score_n_common"] == 95
    assert bool(frame.loc["similarity", "model_blind"])
    assert "not significant" in LEGEND and "tie" not in LEGEND.replace("not the same as tied", "")


def test_p_values_are_benjamini_hochberg_adjusted_within_the_table():
    p = np.array([0.001, 0.02, np.nan, 0.04, 0.5])
    adjusted = adjust_p_values(p)
    assert np.isnan(adjusted[2])
    np.testing.assert_allclose(adjusted[[0, 1, 3, 4]], false_discovery_control(p[[0, 1, 3, 4]]))
    assert np.all(adjusted[[0, 1, 3, 4]] >= p[[0, 1, 3, 4]])
    table, rows = _table()
    entry = rows["worse"].entries["score"]
    assert 0.0 <= entry.p_best <= 1.0 and 0.0 <= entry.p_random <= 1.0


def test_common_users_rule():
    keys = {"a": set(range(100)), "b": set(range(5, 100)), "c": set(range(50))}
    compared, common = common_users(keys)
    assert compared == {"a", "b"} and common == set(range(5, 100))
