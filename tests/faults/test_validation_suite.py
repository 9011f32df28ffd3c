"""Careless input: a suite whose parameters have the wrong type, a misspelled or out-of-range option,
an unknown split option or a negative budget. ``run --check`` reports every problem at once, before
anything is downloaded or trained."""

from __future__ import annotations

import pytest

from xrec_bench.cli import main
from xrec_bench.harness.suite import SuiteError, load_suite

HEAD = """
name = "careless"
version = 1
seed = 0
seeds = [0]
granularities = ["history"]
users = { history = 5 }
"""
TAIL = """
[[models]]
name = "bert-two-tower"
[[explainers]]
name = "lime"
"""

CASES = {
    "wrong parameter type": ('[[baselines]]\nname = "bpr-mf"\nparams = { max_epochs = "abc" }\n',
                             "'max_epochs' parameter of model 'bpr-mf' must be an int"),
    "negative parameter": ('[[baselines]]\nname = "bpr-mf"\nparams = { max_epochs = -5 }\n', "Got -5 instead"),
    "misspelled dataset option": ('[[datasets]]\nname = "synthetic"\noptions = { n_itemz = 300 }\n',
                                  "unknown option(s) n_itemz"),
    "out-of-range dataset option": ('[[datasets]]\nname = "synthetic"\noptions = { n_users = -60 }\n',
                                    "'n_users' option of the synthetic dataset must be an int in the range [1, inf)"),
    "unknown split option": ('[[datasets]]\nname = "synthetic"\nsplit_options = { min_interactionz = 4 }\n',
                             "unknown option(s) min_interactionz"),
    "bad split option value": ('[[datasets]]\nname = "synthetic"\nsplit = "temporal"\n'
                               'split_options = { test_fraction = 2.0 }\n', "test_fraction"),
    "negative stability_users": ("metric_options = { stability_users = -2 }\n",
                                 "stability_users must be None (all users) or an int >= 1"),
}


def _write(tmp_path, *parts):
    path = tmp_path / "careless.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_careless_value_is_caught(tmp_path, case):
    fragment, expected = CASES[case]
    top, tables = (fragment, "") if not fragment.startswith("[[") else ("", fragment)
    dataset = "" if "[[datasets]]" in tables else '[[datasets]]\nname = "synthetic"\n'
    path = _write(tmp_path, HEAD + top, dataset, tables, TAIL)
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert expected in str(err.value)


def test_every_problem_is_reported_together_and_nothing_runs(tmp_path, capsys):
    top = CASES["negative stability_users"][0]
    tables = "\n".join(fragment for name, (fragment, _) in sorted(CASES.items()) if fragment.startswith("[["))
    parts = tables.split('[[datasets]]\nname = "synthetic"\n')  # give each dataset its own label
    tables = parts[0] + "".join(f'[[datasets]]\nname = "synthetic"\nlabel = "s{i}"\n{p}' for i, p in enumerate(parts[1:]))
    path = _write(tmp_path, HEAD + top, tables, TAIL)
    assert main(["run", "--suite", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    for _, expected in CASES.values():
        assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()
