"""What a suite will cost, from what earlier runs measured (``xrec-bench run --suite S --check``).

Every cell of a run record says how long it took (``elapsed_s``), how much of that was explaining
(``info.cost.total_wall_s``) and how much the latency probe (``timing``). For each cell of the suite to
size, :func:`estimate` picks the closest measured cell (same explainer and granularity; preferring
the same dataset, then the same model and parameters, then the same device; equally close ones are
averaged, weighted by the users they measured) and scales it:

* users: linearly in the number of users (budgeted metrics such as ``sanity_users`` grow slower,
  so this errs high);
* samples: the explanation part by the ratio of the explainer's ``n_samples`` / ``n_steps``;
* model size: token-level cells and training by the encoder's per-token cost (layers x hidden^2,
  :data:`ENCODER_COST`); history-level cells score cached item embeddings and are not scaled;
* text length and dataset size: as measured (a dataset that was never measured takes the mean of
  the measured ones, and says so);
* GPU: a model whose ``device`` is ``cuda`` trains and explains tokens and fields on a GPU (its
  history level runs on the CPU); without a GPU measurement its CPU time is divided by ``gpu_speedup``
  (an assumption, printed; the CPU-side part of a GPU cell is divided too, so this errs low).

The best measurement of a large suite is a pilot run of that suite with ``--users 5`` into its
results folder: ``--check`` reads the records there first, and then only users are scaled.
"""

from __future__ import annotations

import glob
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrec_bench.harness.suite import ComponentSpec, Suite, SuiteError, load_suite
from xrec_bench.harness.timing import MIN_BLOCKS
from xrec_bench.io import read_json

log = logging.getLogger(__name__)

#: explainer parameters that set how many model evaluations (or gradient steps) an explanation takes
SAMPLE_PARAMS = ("n_samples", "n_steps")
#: encoder -> (layers, hidden size); per-token cost ~ layers x hidden^2
ENCODER_COST = {
    "all-MiniLM-L6-v2": (6, 384),
    "all-MiniLM-L12-v2": (12, 384),
    "distilbert-base-uncased": (6, 768),
    "bert-base-uncased": (12, 768),
    "bert-large-uncased": (24, 1024),
}
DEFAULT_ENCODER = "all-MiniLM-L6-v2"
#: assumed speed of one GPU against the measuring CPU when no GPU measurement exists
GPU_SPEEDUP = 25.0


@dataclass(frozen=True)
class Measured:
    """One measured cell of a run record."""

    run: str
    kind: str  # "explainer" | "accuracy"
    dataset: str
    model: ComponentSpec
    explainer: ComponentSpec | None
    granularity: str
    n_users: int
    explain_s: float  # explaining (explainer cells); the whole cell (accuracy cells: training + ranking)
    metrics_s: float
    probe_s: float
    device: str
    params_known: bool
    #: the latency probe's median block: explaining (work) and the reference workload, seconds (0: unknown)
    probe_work_s: float = 0.0
    probe_ref_s: float = 0.0


@dataclass
class Row:
    dataset: str
    model: str
    explainer: str
    granularity: str
    seeds: int
    users: int
    seconds: float  # per seed
    gpu: bool
    basis: str

    @property
    def total_s(self) -> float:
        return self.seconds * self.seeds


@dataclass
class Estimate:
    suite: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def hours(self, gpu: bool) -> float:
        return sum(r.total_s for r in self.rows if r.gpu == gpu and math.isfinite(r.seconds)) / 3600

    @property
    def unmeasured(self) -> list[Row]:
        return [r for r in self.rows if not math.isfinite(r.seconds)]


def default_records(out: str | Path | None) -> list[Path]:
    """Run records to learn from: the suite's results folder (a pilot run), then the shipped results."""
    paths: list[Path] = []
    if out is not None:
        paths += sorted(Path(out).glob("records/*.json"))
    # the checkout's published results (an installed package has none: then those under the working folder)
    roots = {Path(__file__).resolve().parents[2] / "results", Path.cwd().resolve() / "results"}
    for suite in sorted(p for root in roots for p in root.glob("*") if p.is_dir()):
        versions = [v for v in suite.glob("v*") if v.name[1:].isdigit() and list(v.glob("records/*.json"))]
        if versions:  # the latest version of each shipped suite: the code that runs today
            latest = max(versions, key=lambda v: int(v.name[1:]))
            paths += sorted(Path(p) for p in glob.glob(str(latest / "records" / "*.json")))
    return list(dict.fromkeys(paths))


def measurements(paths: list[Path]) -> tuple[list[Measured], list[str]]:
    """The measured cells of the run records at ``paths`` (and a line per record used)."""
    out: list[Measured] = []
    used: list[str] = []
    for path in paths:
        try:
            record = read_json(path)
        except (OSError, ValueError) as exc:
            log.warning("skipping run record %s: %s", path, exc)
            continue
        suite = _suite_of(record)
        specs = {}
        if suite is not None:
            specs = {e.label: e for e in suite.explainers} | {m.label: m for m in suite.models + suite.baselines}
        models = {m["model"]: ComponentSpec(m["name"], m["model"], dict(m.get("params") or {}))
                  for m in record.get("models", [])}
        device = str(record.get("environment", {}).get("device", "cpu"))
        n = 0
        for cell in record.get("cells", []):
            key = cell.get("key", {})
            if cell.get("status") != "ok" or "elapsed_s" not in cell:
                continue
            model = models.get(key.get("model")) or specs.get(key.get("model")) or ComponentSpec(key["model"], key["model"])
            cost = (cell.get("info") or {}).get("cost") or {}
            timing = cell.get("timing") or {}
            probe = float(sum(timing.get("work_s") or []) + sum(timing.get("reference_s") or []))
            elapsed = float(cell["elapsed_s"])
            if cell.get("kind") == "explainer":
                label = key["explainer"]
                explainer = specs.get(label) or ComponentSpec(label, label)
                explain = min(float(cost.get("total_wall_s") or 0.0), elapsed)
                metrics = max(0.0, elapsed - explain - probe)
                users = len(cell.get("users") or [])
                if users == 0:
                    continue
                work_s, ref_s = timing.get("work_s") or [], timing.get("reference_s") or []
                out.append(Measured(record.get("run_id", path.stem), "explainer", key["dataset"], model, explainer,
                                    key["granularity"], users, explain, metrics, probe, device, label in specs,
                                    _median(work_s), _median(ref_s)))
            elif cell.get("kind") == "accuracy":
                out.append(Measured(record.get("run_id", path.stem), "accuracy", key["dataset"], model, None, "-", 0,
                                    elapsed, 0.0, 0.0, device, True))
            else:
                continue
            n += 1
        if n:
            used.append(f"{record.get('run_id', path.stem)} ({n} cells, device {device}, reference workload "
                        f"{record.get('reference_workload', {}).get('seconds', float('nan')):.3f} s)")
    return out, used


def _suite_of(record: dict[str, Any]) -> Suite | None:
    """The suite a record ran (for its explainers' parameters), if it is still the same version."""
    info = record.get("suite", {})
    source = str(info.get("source", ""))
    try:
        suite = load_suite(source.removeprefix("shipped:") if source.startswith("shipped:") else source)
    except (SuiteError, OSError, ValueError):
        return None
    return suite if suite.content_hash == info.get("content_hash") else None


def encoder_cost(model: ComponentSpec) -> float | None:
    """Per-token cost of the model's encoder (layers x hidden^2), None if unknown."""
    name = str(model.params.get("encoder") or DEFAULT_ENCODER).split("/")[-1]
    if name not in ENCODER_COST:
        return None
    layers, hidden = ENCODER_COST[name]
    return float(layers * hidden * hidden)


def _is_gpu(model: ComponentSpec) -> bool:
    return str(model.params.get("device", "cpu")).startswith("cuda")


def _score(m: Measured, dataset: str, model: ComponentSpec, want_gpu: bool) -> tuple:
    """Closeness of a measurement to a target cell (compared as a tuple: earlier entries first); among
    equals, the measurement of more users (the datasets stay tied, to be averaged)."""
    return (m.dataset == dataset, m.model.name == model.name and m.model.params == model.params,
            m.model.name == model.name, ("cuda" in m.device) == want_gpu, m.params_known,
            m.n_users if m.dataset == dataset else 0)


def estimate(suite: Suite, measured: list[Measured], *, gpu_speedup: float = GPU_SPEEDUP) -> Estimate:
    """Seconds per cell of ``suite`` scaled from the ``measured`` cells (see the module docstring)."""
    est = Estimate(suite=f"{suite.name} v{suite.version}", rows=[])
    notes: set[str] = set()
    by_explainer = defaultdict(list)
    for m in measured:
        if m.kind == "explainer":
            by_explainer[(m.explainer.name, m.granularity)].append(m)
    accuracy = [m for m in measured if m.kind == "accuracy"]
    seeds = len(suite.seeds)
    for ds in suite.datasets:
        for model in suite.baselines + suite.models:
            gpu = _is_gpu(model)
            rows = [m for m in accuracy if m.model.name == model.name]
            seconds, basis = _scaled_accuracy(rows, ds.label, model, gpu, gpu_speedup, notes)
            est.rows.append(Row(ds.label, model.label, "-", "-", seeds, 0, seconds, gpu, basis))
        for model in suite.models:
            for granularity in suite.granularities_for(model):  # those it is explained at
                # a text model on a GPU runs its encoder there (tokens, fields); history-level requests score
                # cached item vectors on the CPU (xrec_bench.models.two_tower)
                gpu = _is_gpu(model) and granularity != "history"
                users = suite.users[granularity]
                for explainer in suite.explainers:
                    ok, why = _supports(explainer, granularity)
                    if not ok:
                        est.rows.append(Row(ds.label, model.label, explainer.label, granularity, seeds, users, 0.0,
                                            gpu, f"not run: {why}"))
                        continue
                    cands = by_explainer.get((explainer.name, granularity), [])
                    seconds, basis = _scaled_explainer(cands, ds.label, model, explainer, granularity, users, gpu,
                                                       gpu_speedup, suite.timing, notes)
                    est.rows.append(Row(ds.label, model.label, explainer.label, granularity, seeds, users, seconds,
                                        gpu, basis))
    est.notes = sorted(notes)
    est.sources = sorted({m.run for m in measured})
    return est


def _supports(explainer: ComponentSpec, granularity: str) -> tuple[bool, str]:
    import xrec_bench.explainers  # noqa: F401  (registers the built-in explainers)
    from xrec_bench.explainers.base import EXPLAINERS

    try:
        return EXPLAINERS.get(explainer.name).supports(granularity)
    except KeyError:
        return True, ""


#: model parameters that set how much training is done: a measurement with other values says nothing
#: about training time (dataset size, early stopping and the step count interact)
TRAINING_PARAMS = ("max_epochs", "max_steps", "train_layers", "positions_per_user", "n_factors", "epochs")


def _best(cands: list[Measured], dataset: str, model: ComponentSpec, gpu: bool) -> list[Measured]:
    """The closest measured cells (ties: every one of them, averaged by the caller)."""
    if not cands:
        return []
    top = max(_score(m, dataset, model, gpu) for m in cands)
    return [m for m in cands if _score(m, dataset, model, gpu) == top]


def _model_factor(m: Measured, model: ComponentSpec, notes: set[str]) -> float:
    target, measured = encoder_cost(model), encoder_cost(m.model)
    if target is None or measured is None:
        notes.add(f"encoder of {model.label} or of the measured {m.model.label} is not in ENCODER_COST: model size "
                  "not scaled")
        return 1.0
    return target / measured


def _device_factor(m: Measured, gpu: bool, gpu_speedup: float, notes: set[str]) -> float:
    if gpu and "cuda" not in m.device:
        notes.add(f"no GPU measurement: GPU time = measured CPU time / {gpu_speedup:g} (assumed speed-up; "
                  "pass --gpu-speedup, or measure with a pilot run on the GPU)")
        return 1.0 / gpu_speedup
    if not gpu and "cuda" in m.device:
        notes.add(f"a CPU cell is scaled from a GPU measurement (x{gpu_speedup:g})")
        return gpu_speedup
    return 1.0


def _scaled_accuracy(cands, dataset, model, gpu, gpu_speedup, notes) -> tuple[float, str]:
    best = _best(cands, dataset, model, gpu)
    if not best:
        return float("nan"), "no measurement of this model"
    differ = sorted(k for k in TRAINING_PARAMS
                    if any(m.model.params.get(k) != model.params.get(k) for m in best))
    if differ:
        notes.add(f"training of {model.label} ({_params(model)}) was measured only with other {', '.join(differ)} "
                  f"({_params(best[0].model)}): not estimated; a pilot run with --users 5 measures it")
        return float("nan"), f"{_basis(best, dataset, notes)}; training parameters differ ({', '.join(differ)})"
    values = []
    for m in best:
        factor = _device_factor(m, gpu, gpu_speedup, notes)
        if "encoder" in model.params or "encoder" in m.model.params:
            factor *= _model_factor(m, model, notes)
        values.append(m.explain_s * factor)
    return sum(values) / len(values), _basis(best, dataset, notes)


def _scaled_explainer(cands, dataset, model, explainer, granularity, users, gpu, gpu_speedup, timing,
                      notes) -> tuple[float, str]:
    best = _best(cands, dataset, model, gpu)
    if not best:
        return float("nan"), "no measurement of this explainer at this granularity"
    values, factors = [], []
    for m in best:
        samples = _samples_factor(m, explainer, notes)
        size = _model_factor(m, model, notes) if granularity == "tokens" else 1.0
        device = _device_factor(m, gpu, gpu_speedup, notes)
        per_user = (m.explain_s * samples + m.metrics_s) / m.n_users
        probe = 0.0 if gpu else _probe(m, size * device, timing)  # the probe declines GPU cells (CPU clock)
        values.append(per_user * users * size * device + probe)
        factors.append((users / m.n_users, samples, size, device))
    # tied measurements (other datasets, other runs) count by how many users they measured
    weights = [m.n_users for m in best]
    u, s, z, d = (sum(w * f[i] for w, f in zip(weights, factors, strict=True)) / sum(weights) for i in range(4))
    scale = f"x{u:.3g} users" + (f", x{s:.3g} samples" if s != 1 else "") + (f", x{z:.3g} encoder" if z != 1 else "")
    scale += f", /{1 / d:.3g} GPU" if d < 1 else ""
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights), f"{_basis(best, dataset, notes)}; {scale}"


def _median(values: list[float]) -> float:
    return float(sorted(values)[len(values) // 2]) if values else 0.0


def _probe(m: Measured, factor: float, timing: dict[str, Any]) -> float:
    """The latency probe's seconds in the target cell, as ``harness.timing.interleaved`` spends them: ``blocks``
    blocks, fewer where they would pass ``max_probe_s``, but never fewer than ``MIN_BLOCKS`` (so a slow
    explanation runs over the budget); each block the measured one with its explaining part scaled."""
    blocks, budget = int(timing.get("blocks") or 0), float(timing.get("max_probe_s", 0.0))
    if blocks == 0 or m.probe_work_s <= 0:  # probe off here, or not judged in the measurement
        return 0.0
    work = m.probe_work_s * factor
    if work * blocks > budget:
        blocks = max(MIN_BLOCKS, int(budget // max(work, 1e-9)))
    return blocks * (work + m.probe_ref_s)


def _samples_factor(m: Measured, explainer: ComponentSpec, notes: set[str]) -> float:
    if m.explainer is None:
        return 1.0
    factor = 1.0
    for key in SAMPLE_PARAMS:
        a, b = explainer.params.get(key), m.explainer.params.get(key)
        if a is None and b is None:
            continue
        if a is None or b is None or not m.params_known:
            notes.add(f"{explainer.label}: {key} of the target or of the measurement is the explainer's default "
                      "(not known here): not scaled")
            continue
        factor *= float(a) / float(b)
    return factor


def _basis(best: list[Measured], dataset: str, notes: set[str]) -> str:
    datasets = sorted({m.dataset for m in best})
    if dataset not in datasets:
        notes.add(f"{dataset}: cells without a measurement on it take the mean of the measured datasets (text and "
                  "history lengths differ; a pilot run with --users 5 measures it)")
    m = best[0]
    runs = "+".join(sorted({x.run.split("-20")[0] for x in best}))
    where = dataset if dataset in datasets else "mean of " + "+".join(datasets)
    users = f", {sum(x.n_users for x in best)} users" if m.kind == "explainer" else ""
    return f"{runs} {where}/{m.model.label}{users}"


def _params(spec: ComponentSpec) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(spec.params.items())) or "defaults"


def _hours(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    return f"{seconds / 3600:.2f} h" if seconds >= 360 else f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def format_estimate(est: Estimate, *, per_cell: bool = True) -> str:
    """The estimate as text: totals, per dataset, per cell (one line per cell and seed count), the notes."""
    cpu, gpu = est.hours(False), est.hours(True)
    lines = [f"estimated cost of {est.suite}: {cpu:.2f} CPU hours" + (f" + {gpu:.2f} GPU hours" if gpu else "")
             + f" ({len(est.rows)} cell groups, {sum(r.seeds for r in est.rows)} cells)"]
    lines.append("  CPU hours are those of the measuring machine (its reference workload is printed with each "
                 "source); spread over W workers the wall time is about the total / W")
    by_ds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in est.rows:
        if math.isfinite(r.seconds):
            by_ds[r.dataset][int(r.gpu)] += r.total_s
    for ds, (c, g) in by_ds.items():
        lines.append(f"  {ds}: {c / 3600:.2f} CPU h" + (f", {g / 3600:.2f} GPU h" if g else ""))
    if est.unmeasured:
        lines.append(f"  not estimated ({len(est.unmeasured)} cell groups without a measurement): "
                     + ", ".join(sorted({f'training {r.model}' if r.explainer == '-' else f'{r.explainer}/{r.granularity}'
                                         for r in est.unmeasured})))
    if per_cell:
        lines.append("per cell (time per seed x seeds = total; basis: the measurement used and how it was scaled):")
        width = max((len(f"{r.dataset}/{r.model}/{r.explainer}/{r.granularity}") for r in est.rows), default=10)
        for r in est.rows:
            name = f"{r.dataset}/{r.model}/{r.explainer}/{r.granularity}"
            lines.append(f"  {name:<{width}}  {'GPU' if r.gpu else 'CPU'}  {_hours(r.seconds):>9} x{r.seeds} = "
                         f"{_hours(r.total_s):>9}  [{r.basis}]")
    if est.sources:
        lines.append("measurements used: " + "; ".join(est.sources))
    for note in est.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
