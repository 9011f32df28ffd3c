"""One KEY=VALUE syntax on every command (xrec_bench/cli/options.py)."""

import argparse

import pytest

from xrec_bench.cli import CliError, build_parser
from xrec_bench.cli.options import merge_deprecated_param, pairs, parse_pairs, parse_value, suite_problems
from xrec_bench.harness.suite import SuiteError


def test_values_are_typed_like_a_suite_file():
    assert parse_pairs(["max_steps=150", "device=cpu", "lr=1e-4", "freeze=true", "x=null", "f=[0.1, 0.5]",
                        'code="007"', "expr=a=b"], "--model-param") == {
        "max_steps": 150, "device": "cpu", "lr": 1e-4, "freeze": True, "x": None, "f": [0.1, 0.5], "code": "007",
        "expr": "a=b"}
    assert parse_value("category=Magazine") == "category=Magazine" and parse_value("") == ""


@pytest.mark.parametrize(("items", "says"), [(["max_steps"], "--model-param takes KEY=VALUE (e.g. --model-param"),
                                             (["=3"], "KEY=VALUE"),
                                             (["a=1", "a=2"], "--model-param a is given twice")])
def test_malformed_pairs_name_the_option(items, says):
    with pytest.raises(CliError, match=says.replace("(", r"\(")):
        parse_pairs(items, "--model-param")


@pytest.mark.parametrize("command", [["train"], ["evaluate", "--explainers", "x", "--granularity", "history"],
                                     ["explain", "--explainer", "x", "--granularity", "history"]])
def test_every_command_has_the_component_options(command):
    args = build_parser().parse_args([command[0], "--dataset", "d", "--model", "m", *command[1:],
                                      "--model-param", "a=1", "--dataset-option", "b=2"])
    assert pairs(args, "--model-param") == {"a": 1} and pairs(args, "--dataset-option") == {"b": 2}


def test_deprecated_param_says_what_to_write(capsys):
    args = argparse.Namespace(param=["n_samples=10"], explainer_param=["a=1"])
    merge_deprecated_param(args, "--explainer-param")
    assert args.explainer_param == ["a=1", "n_samples=10"] and args.param == []
    assert "--param is deprecated here; write --explainer-param n_samples=10" in capsys.readouterr().err


def test_suite_problems_are_worded_for_the_command_line():
    exc = SuiteError("the arguments is not a valid suite (2 problems):\n  - datasets[0]: unknown dataset 'x'.\n"
                     "  - baselines[0]: 'bpr-mf' refuses its params: bad\n")
    text = suite_problems(exc)
    assert text.startswith("invalid arguments (2 problems):")
    assert "  - --dataset: unknown dataset 'x'." in text and "  - --model: 'bpr-mf' refuses its params" in text
