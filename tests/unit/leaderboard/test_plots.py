"""The one curve-drawing helper behind the leaderboard's figures and ``xrec-bench evaluate``'s plot."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from xrec_bench.leaderboard.plots import Curve, draw_curves  # noqa: E402


def test_draw_curves_dashes_the_baseline_shades_bands_and_labels_the_panel():
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 5)
    draw_curves(ax, [Curve("random", x, x, baseline=True), Curve("saliency", x, x**2, band=(x**2 - 0.1, x**2 + 0.1), color="C3")],
                title="deletion score", xlabel="fraction removed", title_size=9, linewidth=2.0)
    random, saliency = ax.get_lines()
    assert (random.get_linestyle(), saliency.get_linestyle()) == ("--", "-")
    assert [line.get_label() for line in ax.get_lines()] == ["random", "saliency"]
    assert saliency.get_color() == "C3" and saliency.get_linewidth() == 2.0
    np.testing.assert_array_equal(saliency.get_ydata(), x**2)
    assert len(ax.collections) == 1  # one band
    assert ax.get_title() == "deletion score" and ax.title.get_fontsize() == 9
    assert ax.get_xlabel() == "fraction removed"
    plt.close(fig)


def test_no_curves_still_labels_the_panel():
    fig, ax = plt.subplots()
    draw_curves(ax, [], title="empty")
    assert ax.get_title() == "empty" and not ax.get_lines() and ax.get_xlabel() == ""
    plt.close(fig)
