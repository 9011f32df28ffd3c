"""``xrec-bench train``: train a model on a dataset's split (or load it from the model cache) and
print its test accuracy with bootstrap 95% CIs, the training time and the peak memory.

It runs an accuracy-only one-cell suite through the harness (:func:`xrec_bench.api.train`): the model
is trained with the seed a suite with ``seed = --seed`` gives it, so ``xrec-bench evaluate`` and
``xrec-bench run`` with that seed load it from the model cache instead of training it again, and the
accuracy is the suite's accuracy cell. Results go to ``--out`` (default ``runs/cli``).

Example::

    xrec-bench train --dataset movielens-100k --model bert-two-tower --seed 0
    xrec-bench train --dataset amazon-2018 --dataset-option category=Magazine_Subscriptions \\
        --model bpr-mf --config bpr.toml --json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from xrec_bench.cli import CliError
from xrec_bench.cli.options import (
    add_deprecated_param,
    add_options,
    merge_deprecated_param,
    pairs,
    suite_problems,
)

METRIC_ORDER = ("ndcg", "recall", "hit", "mrr")
#: where the one-cell suites of ``train``, ``evaluate`` (and their cells) go unless ``--out`` says
DEFAULT_OUT = Path("runs") / "cli"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train (or load) a model and print its test accuracy")
    p.add_argument("--dataset", required=True, help="dataset name, e.g. synthetic, movielens-100k")
    p.add_argument("--model", required=True, help="model name, e.g. bert-two-tower, bpr-mf")
    p.add_argument("--config", type=Path, help="model parameters as a JSON, TOML or YAML file (a flat table)")
    add_options(p, "--dataset-option", "--model-param", notes={"--model-param": "; overrides --config"})
    add_deprecated_param(p, "--model-param")
    p.add_argument("--split", default="leave-last-out", choices=("leave-last-out", "temporal"))
    p.add_argument("--seed", type=int, default=0,
                   help="the suite seed (default 0): the model is trained with the seed a suite with this seed gives it")
    p.add_argument("--ks", default="10,20", help="cut-offs K (default 10,20)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def read_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    if not path.is_file():
        raise CliError(f"--config {path}: no such file.")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise CliError(f"--config {path}: expected a .json, .toml, .yaml or .yml file.")
    except (ValueError, ImportError) as exc:
        raise CliError(f"--config {path} could not be parsed: {exc}") from exc
    if not isinstance(data, dict):
        raise CliError(
            f"--config {path} must hold a table of parameters (key: value). Got {type(data).__name__}."
        )
    return data


def peak_memory_mb() -> dict[str, float]:
    from xrec_bench._util.memory import peak_cuda_mb, peak_rss_mb

    out = {"peak_rss_mb": round(peak_rss_mb(), 1)}
    if (cuda_peak := peak_cuda_mb()) is not None:
        out["peak_cuda_mb"] = round(cuda_peak, 1)
    return out


def run(args: argparse.Namespace) -> int:
    from xrec_bench.api import one_cell_suite
    from xrec_bench.api import run as run_one_cell
    from xrec_bench.harness.suite import SuiteError
    from xrec_bench.metrics.accuracy import summarize

    merge_deprecated_param(args, "--model-param")
    try:
        ks = tuple(int(k) for k in args.ks.split(","))
    except ValueError as exc:
        raise CliError(f"--ks expects comma-separated integers, e.g. 10,20. Got {args.ks!r}.") from exc
    params = {**read_config(args.config), **pairs(args, "--model-param")}
    try:  # every problem (names, parameters, options) before anything is loaded or trained
        suite = one_cell_suite([], dataset=args.dataset, model=args.model, seed=args.seed, model_params=params,
                               dataset_options=pairs(args, "--dataset-option"), split=args.split, accuracy_ks=ks,
                               source="the arguments")
    except SuiteError as exc:
        raise CliError(suite_problems(exc)) from None
    result = run_one_cell(suite, args.out, progress=not args.no_progress)
    (cell,) = result.record["cells"]
    (model,) = result.record["models"]
    if cell["status"] != "ok":
        raise CliError(f"{args.model} on {args.dataset} failed: {cell['reason']}")
    estimates = summarize(per_user(cell), seed=args.seed)
    data = result.record["datasets"][suite.datasets[0].label]
    revision = cell.get("model_revision") or {}
    report = {
        "dataset": data["name"],
        "dataset_fingerprint": data["fingerprint"],
        "dataset_options": data["options"],
        "split": args.split,
        "model": args.model,
        "params": resolved_params(args.model, params),
        "seed": args.seed,
        "train_seed": model["train_seed"],
        "n_users": data["summary"]["n_users"],
        "n_items": data["summary"]["n_items"],
        "test_cases": data["summary"]["n_test_cases"],
        "from_cache": model["this_run"] != "trained",
        "this_run": model["this_run"],
        "checkpoint": checkpoint_path(args.model, revision),
        "train_seconds": revision.get("fit_seconds"),
        "train_peak_rss_mb": checkpoint_config(checkpoint_path(args.model, revision)).get("fit_peak_rss_mb"),
        "eval_seconds": cell.get("elapsed_s"),
        **peak_memory_mb(),
        "metrics": {name: est.as_dict() for name, est in estimates.items()},
        "run_record": str(result.record_path),
    }
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
        return 0
    print(
        f"{args.model} on {report['dataset']} ({args.split}, seed {args.seed}): "
        f"{report['n_users']} users, {report['n_items']} items, {report['test_cases']} test cases"
    )
    train = report["train_seconds"]
    cached = "" if report["this_run"] == "trained" else f" ({report['this_run']})"
    train_mem = report["train_peak_rss_mb"]
    print(
        f"training time: {'unknown' if train is None else f'{train:.1f} s'}; peak memory when trained: "
        f"{'unknown' if train_mem is None else f'{train_mem:.0f} MB RSS'}{cached}"
    )
    print(
        f"peak memory of this run: {report['peak_rss_mb']:.0f} MB RSS"
        + (f", {report['peak_cuda_mb']:.0f} MB CUDA" if "peak_cuda_mb" in report else "")
    )
    print(f"checkpoint: {report['checkpoint']}")
    print(f"run record: {report['run_record']}")
    print(f"{'metric':<12} {'mean':>8}  95% CI")
    for k in ks:
        for family in METRIC_ORDER:
            est = estimates[f"{family}@{k}"]
            print(
                f"{family + '@' + str(k):<12} {est.mean:>8.4f}  [{est.low:.4f}, {est.high:.4f}]  (n={est.n})"
            )
    return 0


def per_user(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's per-user metric values as arrays (None -> NaN)."""
    from xrec_bench.harness.record import as_array

    return {name: as_array(values) for name, values in cell["metrics"].items()}


def resolved_params(model: str, params: dict[str, Any]) -> dict[str, Any]:
    from xrec_bench.models import MODELS

    return MODELS.get(model).resolve_params(params)


def checkpoint_path(model: str, revision: dict[str, Any]) -> str:
    from xrec_bench import paths

    name = revision.get("checkpoint")
    return str(paths.cache_dir() / "models" / model / name) if name else ""


def checkpoint_config(folder: str) -> dict[str, Any]:
    """The checkpoint's config (training time and memory), or {} when there is none."""
    from xrec_bench.io import read_json
    from xrec_bench.models.checkpoint import CONFIG_FILE

    try:
        config = read_json(Path(folder) / CONFIG_FILE) if folder else {}
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}
