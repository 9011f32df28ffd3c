"""Attack: names and labels in a suite that are paths, markup or empty. They become folder and file
names, so they are refused when the suite is read, every problem at once."""

from __future__ import annotations

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, fake_catalog
from xrec_bench.harness.suite import SuiteError, load_suite
from xrec_bench.paths import UnsafePathError, inside, slug_problem


@pytest.mark.parametrize("bad", ["../../../../tmp/x", "/abs/path", "..", ".hidden", "a b", "x/y", "a\\b",
                                 "<img src=x onerror=alert(1)>", "$\\frac{x$", "", "x" * 81, "tab\tname", 5, None])
def test_slug_rule_refuses_paths_markup_and_non_strings(bad):
    assert slug_problem(bad) is not None


@pytest.mark.parametrize("good", ["quick", "movielens-1m", "amazon-magazine", "bert-two-tower", "v1.2_x"])
def test_slug_rule_accepts_ordinary_names(good):
    assert slug_problem(good) is None


def _suite(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return load_suite(path, catalog=fake_catalog())


def test_a_traversal_label_and_an_absolute_suite_name_are_refused_together(tmp_path):
    text = FAKE_SUITE_TOML.replace('name = "fake"', 'name = "/abs/path"', 1)
    text = text.replace('name = "toy-a"', 'name = "toy-a"\nlabel = "../../../../tmp/x"', 1)
    assert text != FAKE_SUITE_TOML
    with pytest.raises(SuiteError) as err:
        _suite(tmp_path, text)
    message = str(err.value)
    assert "'/abs/path'" in message and "'../../../../tmp/x'" in message
    assert "2 problems" in message


def test_model_and_explainer_labels_are_checked_too(tmp_path):
    text = FAKE_SUITE_TOML.replace('name = "fake-two-tower"', 'name = "fake-two-tower"\nlabel = "m/../../x"', 1)
    assert text != FAKE_SUITE_TOML
    with pytest.raises(SuiteError, match="m/../../x"):
        _suite(tmp_path, text)


def test_inside_refuses_every_escape(tmp_path):
    assert inside(tmp_path, "a", "b.json") == (tmp_path / "a" / "b.json").resolve()
    for parts in (("..", "x"), ("/etc/passwd",), ("a", "..", "..", "x")):
        with pytest.raises(UnsafePathError, match="outside the output folder"):
            inside(tmp_path, *parts)
