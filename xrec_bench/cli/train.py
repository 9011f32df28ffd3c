"""``xrec-bench train``: train a model on a dataset's leave-last-out split (or load it from the
model cache) and print its test accuracy with bootstrap 95% CIs, the training time and the peak
memory.

Example::

    xrec-bench train --dataset movielens-100k --model bert-two-tower --seed 0
    xrec-bench train --dataset amazon-2018 --dataset-option category=Magazine_Subscriptions \\
        --model bpr-mf --config bpr.toml --json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from xrec_bench.cli import CliError

METRIC_ORDER = ("ndcg", "recall", "hit", "mrr")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train (or load) a model and print its test accuracy")
    p.add_argument("--dataset", required=True, help="dataset name, e.g. synthetic, movielens-100k")
    p.add_argument(
        "--dataset-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option (JSON value), repeatable, e.g. category=Magazine_Subscriptions",
    )
    p.add_argument("--model", required=True, help="model name, e.g. bert-two-tower, bpr-mf")
    p.add_argument("--config", type=Path, help="model parameters as a JSON, TOML or YAML file (a flat table)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model parameter (JSON value), repeatable; overrides --config",
    )
    p.add_argument("--split", default="leave-last-out", choices=("leave-last-out", "temporal"))
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--ks", default="10,20", help="cut-offs K (default 10,20)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def parse_pairs(pairs: list[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"{flag} expects KEY=VALUE. Got {pair!r} instead.")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value  # a bare string, e.g. category=Magazine_Subscriptions
    return out


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
    import torch

    from xrec_bench.models.checkpoint import peak_rss_mb

    out = {"peak_rss_mb": peak_rss_mb()}
    if torch.cuda.is_available():
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def run(args: argparse.Namespace) -> int:
    from xrec_bench.datasets import load_dataset, make_split
    from xrec_bench.datasets.errors import DatasetError
    from xrec_bench.io import UnsafeArchiveError
    from xrec_bench.metrics.accuracy import evaluate_ranking, summarize
    from xrec_bench.models import MODELS, fit_or_load
    from xrec_bench.registry import UnknownNameError

    if args.model not in MODELS:
        raise CliError(MODELS.unknown_message(args.model))
    try:
        ks = tuple(int(k) for k in args.ks.split(","))
    except ValueError as exc:
        raise CliError(f"--ks expects comma-separated integers, e.g. 10,20. Got {args.ks!r}.") from exc
    params = {**read_config(args.config), **parse_pairs(args.param, "--param")}
    try:
        MODELS.get(args.model).resolve_params(params)  # unknown or invalid parameters fail before any loading
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    try:
        dataset = load_dataset(
            args.dataset,
            progress=not args.no_progress,
            **parse_pairs(args.dataset_option, "--dataset-option"),
        )
    except (UnknownNameError, DatasetError, UnsafeArchiveError) as exc:
        raise CliError(str(exc).strip("'\"")) from None
    try:
        split = make_split(dataset, args.split)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    try:
        model = fit_or_load(
            dataset, split, args.model, params=params, seed=args.seed, progress=not args.no_progress
        )
    except (TypeError, ValueError) as exc:  # a parameter the model refuses
        raise CliError(str(exc)) from None
    start = time.perf_counter()
    per_user = evaluate_ranking(model, split.cases("test"), ks=ks)
    eval_seconds = time.perf_counter() - start
    estimates = summarize(per_user, seed=args.seed)
    report = {
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "dataset_options": dataset.options,
        "split": args.split,
        "model": args.model,
        "params": model.params,
        "seed": args.seed,
        "n_users": dataset.n_users,
        "n_items": dataset.n_items,
        "test_cases": len(split.cases("test")),
        "from_cache": bool(getattr(model, "from_cache_", False)),
        "checkpoint": str(getattr(model, "cache_path_", "")),
        "train_seconds": getattr(model, "fit_seconds_", None),
        "train_peak_rss_mb": getattr(model, "fit_peak_rss_mb_", None),
        "eval_seconds": round(eval_seconds, 2),
        **peak_memory_mb(),
        "metrics": {name: est.as_dict() for name, est in estimates.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
        return 0
    print(
        f"{args.model} on {dataset.name} ({args.split}, seed {args.seed}): "
        f"{dataset.n_users} users, {dataset.n_items} items, {report['test_cases']} test cases"
    )
    train = report["train_seconds"]
    train_s = "unknown" if train is None else f"{train:.1f} s"
    train_mem = report["train_peak_rss_mb"]
    cached = " (model loaded from cache)" if report["from_cache"] else ""
    print(
        f"training time: {train_s}; peak memory when trained: "
        f"{'unknown' if train_mem is None else f'{train_mem:.0f} MB RSS'}{cached}"
    )
    print(
        f"peak memory of this run: {report['peak_rss_mb']:.0f} MB RSS"
        + (f", {report['peak_cuda_mb']:.0f} MB CUDA" if "peak_cuda_mb" in report else "")
    )
    print(f"checkpoint: {report['checkpoint']}")
    print(f"{'metric':<12} {'mean':>8}  95% CI")
    for k in ks:
        for family in METRIC_ORDER:
            est = estimates[f"{family}@{k}"]
            print(
                f"{family + '@' + str(k):<12} {est.mean:>8.4f}  [{est.low:.4f}, {est.high:.4f}]  (n={est.n})"
            )
    return 0
