"""``xrec-bench explain`` end to end on the toy model (dataset, split and model loading patched)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import xrec_bench.datasets as datasets_api
import xrec_bench.harness.suite as suite_module
import xrec_bench.models as models_api
from tests.helpers.toy import ToyModel
from xrec_bench.cli import main
from xrec_bench.datasets.schema import Dataset, EvalCases, Split

N_ITEMS = 30


@pytest.fixture
def patched(monkeypatch):
    toy = ToyModel(n_items=N_ITEMS)
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(N_ITEMS)],
            "title": [f"Title {i}" for i in range(N_ITEMS)],
            "text": [" ".join(f"w{w}" for w in toy.texts[i]) for i in range(N_ITEMS)],
        }
    )
    users = pd.DataFrame({"user_id": ["alice", "bob"]})
    inter = pd.DataFrame({"user": [0, 0, 0, 1], "item": [1, 2, 3, 4], "timestamp": 0, "rating": 1.0})
    truth = pd.DataFrame(
        {"user": [0], "target": [7], "cause_items": [np.array([2])], "cause_words": [("w1",)]}
    )
    ds = Dataset(
        name="toyset",
        version="1",
        items=items,
        users=users,
        interactions=inter,
        checksums={},
        ground_truth=truth,
    )
    cases = EvalCases(users=np.array([0]), histories=[np.array([1, 2, 3])], targets=[np.array([7])])
    split = Split(
        strategy="leave-last-out", train=inter, valid=inter.iloc[:0], test=inter.iloc[:0], test_cases=cases
    )
    monkeypatch.setattr(datasets_api, "load_dataset", lambda name, **kw: ds)
    monkeypatch.setattr(datasets_api, "make_split", lambda d, strategy="leave-last-out", **kw: split)
    monkeypatch.setattr(models_api, "fit_or_load", lambda d, s, name, **kw: toy)
    real = suite_module.registry_catalog

    def catalog():  # the real registries, plus the toy dataset and model
        c = real()
        return dataclasses.replace(
            c,
            datasets=lambda: [*c.datasets(), "toyset"],
            models=lambda: [*c.models(), "toy"],
            model_class=lambda name: ToyModel if name == "toy" else c.model_class(name),
            check_dataset=lambda name, *rest: [] if name == "toyset" else c.check_dataset(name, *rest),
        )

    monkeypatch.setattr(suite_module, "registry_catalog", catalog)
    return toy


ARGS = ["explain", "--dataset", "toyset", "--model", "toy"]


def test_history_json_names_the_top_item(patched, capsys):
    assert (
        main([*ARGS, "--explainer", "leave-one-out", "--granularity", "history", "--user", "alice", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    expected_item = int(
        np.argmax(np.where(np.isin(np.arange(N_ITEMS), [1, 2, 3]), -np.inf, patched.A[[1, 2, 3]].sum(0)))
    )
    assert out["item_id"] == f"i{expected_item}" and out["rank"] == 1
    scores = [f["score"] for f in out["features"]]
    np.testing.assert_allclose(scores, patched.A[[1, 2, 3], expected_item], rtol=1e-5)
    assert [f["item_id"] for f in out["features"]] == ["i1", "i2", "i3"]


def test_tokens_text_output_lists_words_with_scores(patched, capsys):
    code = main(
        [*ARGS, "--explainer", "exact-shapley", "--granularity", "tokens", "--user", "alice", "--item", "i7"]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert 'recommended item i7 "Title 7"' in text and "Top" in text
    for w in patched.texts[7]:
        assert f"w{w}[" in text


def test_unsupported_granularity_prints_the_reason(patched, capsys):
    code = main([*ARGS, "--explainer", "attention", "--granularity", "tokens", "--user", "alice"])
    assert code == 1 and "skipped:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--user", "carol"], "Unknown user id 'carol'"),
        (["--user", "bob"], "has no test case"),
        (["--user", "alice", "--item", "zzz"], "Unknown item id 'zzz'"),
        (["--user", "alice", "--param", "n_samples"], "KEY=VALUE"),
        (["--user", "alice", "--param", "n_sampels=3"], "Unknown parameter"),
    ],
)
def test_user_errors_are_explained(patched, capsys, extra, message):
    assert main([*ARGS, "--explainer", "lime", "--granularity", "history", *extra]) == 2
    assert message in capsys.readouterr().err


def test_unknown_explainer_gets_a_suggestion(patched, capsys):
    assert main([*ARGS, "--explainer", "limee", "--granularity", "history", "--user", "alice"]) == 2
    assert "Did you mean: lime" in capsys.readouterr().err


def test_profile_prints_costs_and_planted_cause_rate(patched, capsys):
    code = main([*ARGS, "--explainer", "leave-one-out,random", "--granularity", "history", "--profile", "1", "--target", "test-item",
                 "--param", "n_samples=10", "--json"])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["explainer"] for r in rows] == ["leave-one-out", "random"]
    assert rows[0]["evals_median"] == 4 and rows[1]["evals_median"] == 0
    truth_top = [1, 2, 3][int(np.argmax(patched.A[[1, 2, 3], 7]))]
    assert rows[0]["cause_top1"][0] == float(truth_top == 2)


def test_last_keeps_only_the_most_recent_history_items(patched, capsys):
    argv = [
        *ARGS,
        "--explainer",
        "exact-shapley",
        "--granularity",
        "history",
        "--user",
        "alice",
        "--item",
        "i7",
    ]
    assert main([*argv, "--last", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [f["item_id"] for f in out["features"]] == ["i2", "i3"]
    assert main([*argv, "--last", "0"]) == 2
