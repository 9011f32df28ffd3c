"""Contract tests generated from the registries: every registered dataset, model, explainer and metric
(built-ins and installed plugins alike) declares a well-formed contract. Registering a component
enrols it here; there is no list of names to keep up to date."""

from __future__ import annotations

import pytest

import xrec_bench.explainers  # noqa: F401  (registers the built-ins)
import xrec_bench.metrics  # noqa: F401
import xrec_bench.models  # noqa: F401
from xrec_bench.contract import CAPABILITIES, GRANULARITIES, Contract
from xrec_bench.datasets.cards import get_card, list_cards
from xrec_bench.explainers.base import EXPLAINERS
from xrec_bench.metrics.base import METRICS, spec
from xrec_bench.metrics.config import EvalConfig
from xrec_bench.models.base import MODELS
from xrec_bench.params import Param


def _contract(kind: str, name: str) -> Contract:
    if kind == "dataset":
        return get_card(name).contract()
    registry = {"model": MODELS, "explainer": EXPLAINERS, "metric": METRICS}[kind]
    return registry.get(name).contract()


COMPONENTS = ([("dataset", n) for n in list_cards()] + [("model", n) for n in MODELS.names()]
              + [("explainer", n) for n in EXPLAINERS.names()] + [("metric", n) for n in METRICS.names()])


def test_every_kind_has_components():
    assert {kind for kind, _ in COMPONENTS} == {"dataset", "model", "explainer", "metric"}


@pytest.mark.parametrize(("kind", "name"), COMPONENTS)
def test_contract_is_declared_and_well_formed(kind, name):
    contract = _contract(kind, name)
    assert contract.kind == kind
    assert contract.name == name, "the registry name is the name the component declares"
    assert contract.problems() == []  # version, capabilities, defaults accepted by their own schema
    assert set(CAPABILITIES[kind]) <= set(contract.capabilities)
    assert set(contract.capabilities["granularities"]) <= set(GRANULARITIES)
    assert all(isinstance(p, Param) for p in contract.params.values())
    assert contract.check(contract.defaults()) == []
    assert contract.check({"surely_not_a_parameter": 1}) or contract.open_params  # unknown names refused


@pytest.mark.parametrize("name", EXPLAINERS.names())
def test_explainer_capabilities_are_consistent(name):
    cls = EXPLAINERS.get(name)
    caps = cls.contract().capabilities
    assert caps["granularities"], f"{name} applies nowhere"
    for g in set(GRANULARITIES) - set(caps["granularities"]):
        assert cls.unsupported_reasons.get(g), f"{name} drops {g} without saying why"
    if caps["model_blind"]:  # a data baseline cannot need the model's gradients
        assert not caps["needs_gradients"]
    if caps["needs_gradients"]:
        assert not caps["model_agnostic"], f"{name} needs gradients, so it is not model-agnostic"
    cls(**cls.contract().defaults())  # its declared defaults build it


@pytest.mark.parametrize("name", MODELS.names())
def test_model_capabilities_are_consistent(name):
    cls = MODELS.get(name)
    caps = cls.contract().capabilities
    assert tuple(caps["granularities"]) == tuple(cls.explainable_granularities)
    if caps["granularities"]:  # an explainable model must define its features
        from xrec_bench.models.base import Recommender

        assert cls.feature_task is not Recommender.feature_task, f"{name} declares granularities but no feature_task"
    assert set(cls.resolve_params({})) == set(cls.contract().defaults())  # ("auto" values may be resolved)


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_outputs_are_declared_once(name):
    cls = METRICS.get(name)
    contract = cls.contract()
    assert contract.outputs and set(contract.capabilities["needs"]) <= {"model", "explainer", "ground_truth"}
    others = {o.name for n in METRICS.names() if n != name for o in METRICS.get(n).outputs}
    assert not {o.name for o in contract.outputs} & others, "two metrics fill the same value"
    for option in cls.options:  # the options it reads are EvalConfig fields, documented
        assert hasattr(EvalConfig(), option) and contract.params[option].help
    for value in cls.names(EvalConfig()):  # every value it fills resolves to its declaration
        declared = spec(value)
        assert declared.metric == name and declared.unit and declared.higher_is_better in (True, False)
