"""One contract per component kind: what a dataset, model, explainer or metric declares about itself.

Each component declares, in one place (its class, or for a dataset its card): its name, a version,
its parameters (:class:`xrec_bench.params.Param`: default, accepted values, help) and its
capabilities. :class:`Contract` is that declaration as a value, read by ``xrec-bench <kind> list|info``,
checked by the contract tests for every registered component, and used to validate parameters
before anything runs (every problem reported at once).

Capabilities are flags that callers ask instead of names (captum's ``has_convergence_delta()``):

* every kind: ``granularities`` (where it applies: ``history``, ``tokens``) and ``deterministic``
  (the same seed gives the same numbers);
* explainers: ``needs_gradients``, ``model_blind`` (a data baseline), ``model_agnostic``, ``max_features``;
* models: ``randomizable`` (has a weight-randomised copy for the sanity metrics);
* datasets: ``pinned`` (every file checksummed in the card);
* metrics: ``needs`` (what beyond the explanation it uses: ``model``, ``explainer``, ``ground_truth``),
  and per value it fills, ``direction``, ``group`` and ``unit`` (:attr:`Contract.outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xrec_bench.params import Param, check_schema

KINDS = ("dataset", "model", "explainer", "metric")

#: the capability flags each kind declares (the contract tests hold every component to them)
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "explainer": ("granularities", "deterministic", "needs_gradients", "model_blind", "model_agnostic",
                  "max_features"),
    "model": ("granularities", "deterministic", "randomizable"),
    "dataset": ("granularities", "deterministic", "pinned"),
    "metric": ("granularities", "deterministic", "needs"),
}

#: The granularities of explanation: which history items, which words of the item text, and which fields
#: of the item text (title, each genre, brand, ...: knowledge-level explanations).
GRANULARITIES = ("history", "tokens", "fields")


@dataclass(frozen=True)
class Output:
    """One value a metric fills per user: name (``@k`` families expand by the config), direction
    (``higher`` or ``lower`` is better), group, unit and what it means. ``ranked`` is False for a
    reference value that tables show but never crown (a coverage, a chance level)."""

    name: str
    direction: str
    group: str
    unit: str
    description: str
    granularity: str | None = None
    ranked: bool = True
    #: for an ``@k`` family (``pos@k``): the EvalConfig field holding the K values (an int or a tuple)
    k_from: str | None = None


@dataclass(frozen=True)
class Contract:
    """A component's declaration (see the module docstring)."""

    kind: str
    name: str
    version: str
    params: Mapping[str, Param]
    capabilities: Mapping[str, Any]
    description: str = ""
    outputs: tuple[Output, ...] = ()
    #: where the component comes from: "built-in", or the plugin's "package version"
    source: str = "built-in"
    #: True for a component that takes ``**params`` without declaring them: names cannot be checked
    open_params: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {name: p.default for name, p in self.params.items()}

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Every problem with ``params`` (unknown names, values out of range), all at once."""
        if self.open_params:
            params = {k: v for k, v in params.items() if k in self.params}
        return check_schema(f"{self.kind} {self.name!r}", params, self.params)

    def problems(self) -> list[str]:
        """What is wrong with the declaration itself (the contract tests assert there is nothing)."""
        out = []
        if not self.name or not isinstance(self.name, str):
            out.append(f"the {self.kind} declares no name")
        if not isinstance(self.version, str) or not self.version.strip():
            out.append(f"{self.kind} {self.name!r} declares no version (a string, bumped when its numbers change)")
        missing = sorted(set(CAPABILITIES[self.kind]) - set(self.capabilities))
        if missing:
            out.append(f"{self.kind} {self.name!r} does not declare the capabilities {missing}")
        grans = self.capabilities.get("granularities")
        if grans is not None and not set(grans) <= set(GRANULARITIES):
            out.append(f"{self.kind} {self.name!r}: granularities {sorted(grans)} are not among {list(GRANULARITIES)}")
        if not isinstance(self.capabilities.get("deterministic", True), bool):
            out.append(f"{self.kind} {self.name!r}: 'deterministic' must be True or False")
        for name, p in self.params.items():
            if not isinstance(p, Param):
                out.append(f"{self.kind} {self.name!r}: parameter {name!r} is not declared with xrec_bench.params.Param")
        out += [f"{self.kind} {self.name!r}: its default parameters are refused: {p}" for p in self.check(self.defaults())]
        if self.kind == "metric":
            if not self.outputs:
                out.append(f"metric {self.name!r} declares no outputs")
            for o in self.outputs:
                if o.direction not in ("higher", "lower"):
                    out.append(f"metric {self.name!r}: output {o.name!r} direction must be 'higher' or 'lower'")
                if not (o.group and o.unit and o.description):
                    out.append(f"metric {self.name!r}: output {o.name!r} needs a group, a unit and a description")
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (``xrec-bench <kind> info NAME --json``)."""
        return {
            "kind": self.kind, "name": self.name, "version": self.version, "source": self.source,
            "description": self.description, "capabilities": {k: _plain(v) for k, v in self.capabilities.items()},
            "params": {n: {"default": _plain(p.default), "accepts": p.describe(), "help": p.help}
                       for n, p in self.params.items()},
            **({"outputs": [o.__dict__ for o in self.outputs]} if self.outputs else {}),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def first_line(text: str | None) -> str:
    """The first line of a docstring (a component's one-line description)."""
    return (text or "").strip().split("\n")[0].strip()
