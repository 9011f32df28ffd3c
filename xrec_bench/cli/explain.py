"""``xrec-bench explain``: why was this item recommended to this user?

One user: prints the recommendation (the model's top-1 for the user's test-case history, or
``--item``) and its attributions: the top history items with titles, or the item text with a score
per word; ``--json`` for machine-readable output.

Both run on what the suite cell of these arguments runs on, loaded through the harness
(:func:`xrec_bench.api.cell_inputs`): the same dataset, the same trained model (from the model cache
when ``train``, ``evaluate`` or ``run`` trained it with this seed) and the cell's explainer seed, so a
user's explanation is the one the suite cell with ``seed = --seed`` computed for that user.

``--profile N``: explains the targets (``--target``, as in suite files: the model's
``top-recommendation`` by default, or the ``test-item``) of the first N test users with each explainer named in
``--explainer`` (comma-separated, or ``all``) and prints the cost table (model evaluations, latency,
overhead over the model alone) and, on a dataset with planted causes (``synthetic``), how often the
planted cause is ranked first.

Explainer parameters: ``--explainer-param KEY=VALUE`` (``--param`` is a deprecated alias); with
``--profile`` and several explainers, each gets the parameters it declares.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

import numpy as np

from xrec_bench.cli import CliError
from xrec_bench.cli.options import (
    add_deprecated_param,
    add_options,
    merge_deprecated_param,
    pairs,
    suite_problems,
)
from xrec_bench.explainers.targets import ALIASES, DEFAULT_TARGET, TARGETS, choose_targets, resolve_target
from xrec_bench.models.base import GRANULARITIES

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain", help="explain a recommendation (history items or words of the item text)"
    )
    p.add_argument("--dataset", required=True, help="dataset name, e.g. synthetic, movielens-100k")
    p.add_argument("--model", required=True, help="model name, e.g. bert-two-tower")
    p.add_argument(
        "--explainer", required=True, help="explainer name (with --profile: a comma list or 'all')"
    )
    p.add_argument("--granularity", required=True, choices=GRANULARITIES)
    p.add_argument("--user", help="the user's original id (dataset.users.user_id)")
    p.add_argument(
        "--item", help="the item's original id to explain (default: the user's top-1 recommendation)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the explainer and of the model (default 0)")
    p.add_argument("--top", type=int, default=10, help="how many history items / words to list (default 10)")
    add_options(p, "--explainer-param", "--dataset-option", "--model-param",
                notes={"--model-param": "; the model cache is keyed by them"})
    add_deprecated_param(p, "--explainer-param")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument(
        "--profile", type=int, metavar="N", help="cost table over the test items of the first N test users"
    )
    p.add_argument(
        "--target", choices=(*TARGETS, *ALIASES), default=DEFAULT_TARGET,
        help=f"what is explained (without --item): {' or '.join(TARGETS)} (default {DEFAULT_TARGET}); "
        f"{' and '.join(ALIASES)} are deprecated aliases",
    )
    p.add_argument(
        "--last",
        type=int,
        metavar="K",
        help="keep only the last K history items (e.g. 12, so that exact Shapley can run on long histories)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xrec_bench.api import cell_inputs, one_cell_suite
    from xrec_bench.datasets.errors import DatasetError
    from xrec_bench.explainers import EXPLAINERS
    from xrec_bench.harness.suite import SuiteError
    from xrec_bench.io import UnsafeArchiveError

    merge_deprecated_param(args, "--explainer-param")
    params = pairs(args, "--explainer-param")
    names = _explainer_names(args.explainer, EXPLAINERS, allow_many=args.profile is not None)
    if args.profile is None and args.user is None:
        raise CliError("--user is required (or --profile N for a cost table over N users).")
    if args.profile is not None and args.profile < 1:
        raise CliError(f"--profile must be an int >= 1. Got {args.profile} instead.")
    target = resolve_target(args.target)  # warns on a deprecated alias
    entries = [{"name": n, "params": _declared(n, params) if args.profile is not None else params} for n in names]
    try:  # every problem (names, parameters, options) before anything is loaded or trained
        suite = one_cell_suite(entries, dataset=args.dataset, model=args.model, seed=args.seed,
                               granularity=args.granularity, users=args.profile or 1, targets=target,
                               dataset_options=pairs(args, "--dataset-option"),
                               model_params=pairs(args, "--model-param"))
        inputs = cell_inputs(suite)
    except SuiteError as exc:
        raise CliError(suite_problems(exc)) from None
    except (DatasetError, UnsafeArchiveError) as exc:
        raise CliError(str(exc).strip("'\"")) from None
    dataset, split = inputs.data.dataset, inputs.data.split
    if args.profile is None:  # a wrong --user/--item is reported before the model loads or trains
        _request_rows(args, dataset, split)
    model = inputs.model().model
    if args.profile is not None:
        return _profile(args, inputs, model, target)
    return _explain_one(args, inputs, model)


# -- one user -------------------------------------------------------------------------------------------
def _request_rows(args, dataset, split):
    """The user's index and test-case rows (CliError for an unknown user or item, or no test case)."""
    user = _index_of(dataset.users["user_id"], args.user, "user")
    rows = np.flatnonzero(np.asarray(split.cases("test").users) == user)
    if len(rows) == 0:
        raise CliError(f"User {args.user!r} has no test case (fewer than 3 interactions); pick another user.")
    if args.item is not None:
        _index_of(dataset.items["item_id"], args.item, "item")
    return user, rows


def _explain_one(args, inputs, model) -> int:
    from xrec_bench.explainers import Request

    dataset, split = inputs.data.dataset, inputs.data.split
    user, rows = _request_rows(args, dataset, split)
    if args.item is None and args.last is None:  # the request the suite cell makes for this user
        req = inputs.requests_at([int(rows[0])], model=inputs.model())[0]
    else:
        cases = split.cases("test")
        history = _last(cases.histories[rows[0]], args.last)
        if args.item is not None:
            item = _index_of(dataset.items["item_id"], args.item, "item")
        else:
            item = choose_targets(inputs.suite.targets, model, [user], [history], [cases.targets[rows[0]]])[0]
        req = Request(user=user, target=int(item), history=history, exclude=history)
    explainer = inputs.explainer(inputs.suite.explainers[0])
    exp = explainer.explain(model, [req], granularity=args.granularity, seed=inputs.seed)[0]
    score, rank = _score_and_rank(model, req, args.granularity)
    report = _report(args, dataset, exp, req.target, score, rank)
    print(json.dumps(report, indent=2) if args.json else _render(report, args.top))
    return 0 if exp.ok else 1


def _score_and_rank(model, req, granularity) -> tuple[float | None, int | None]:
    try:
        task = model.feature_task(
            granularity, user=req.user, history=req.history, target=req.target, exclude=req.exclude
        )
        score, rank = task.score_and_rank(task.full_mask())
        return float(score[0]), int(rank[0])
    except (ValueError, KeyError, IndexError) as exc:
        log.info("no score for the recommendation: %s", exc)
        return None, None


def _report(args, dataset, exp, item, score, rank) -> dict[str, Any]:
    titles = _titles(dataset)
    features = []
    order = {int(j): r for r, j in enumerate(exp.ranking(), start=1)} if exp.ok else {}
    for j, (fid, label, s) in enumerate(zip(exp.feature_ids, exp.feature_labels, exp.scores, strict=True)):
        entry = {"position": j, "label": label, "score": float(s), "rank": order[j]}
        if exp.granularity == "history":
            entry["item_id"] = str(dataset.items["item_id"].iloc[int(fid)])
        features.append(entry)
    return {
        "dataset": args.dataset,
        "model": args.model,
        "explainer": exp.explainer,
        "granularity": exp.granularity,
        "user_id": str(dataset.users["user_id"].iloc[exp.user]),
        "item_id": str(dataset.items["item_id"].iloc[item]),
        "item_title": titles[item],
        "item_text": str(dataset.items["text"].iloc[item]),
        "score": score,
        "rank": rank,
        "n_items": dataset.n_items,
        "status": exp.status,
        "reason": exp.reason,
        "n_evals": exp.n_evals,
        "wall_time_s": exp.wall_time_s,
        "seed": exp.seed,
        "features": features,
    }


def _render(r: dict[str, Any], top: int) -> str:
    rank = f", rank {r['rank']} of {r['n_items']}" if r["rank"] is not None else ""
    score = f"score {r['score']:.4f}" if r["score"] is not None else "score n/a"
    lines = [
        f'User {r["user_id"]}: recommended item {r["item_id"]} "{r["item_title"]}" ({score}{rank})',
        f"  text: {r['item_text']}",
        f"Explainer {r['explainer']} at {r['granularity']} granularity: "
        f"{r['n_evals']} model evaluations, {r['wall_time_s'] * 1e3:.1f} ms",
    ]
    if r["status"] != "ok":
        lines.append(f"  skipped: {r['reason']}")
        return "\n".join(lines)
    ranked = sorted(r["features"], key=lambda f: f["rank"])
    if r["granularity"] == "history":
        lines.append(
            f"Top {min(top, len(ranked))} of {len(ranked)} history items (higher = more responsible):"
        )
        for f in ranked[:top]:
            lines.append(f"  {f['rank']:>3}. {f['score']:+.4f}  {f['label']}  (item {f['item_id']})")
    else:
        lines.append("Item text, each word with its score:")
        lines.append("  " + " ".join(f"{f['label']}[{f['score']:+.3f}]" for f in r["features"]))
        lines.append(f"Top {min(top, len(ranked))} words:")
        for f in ranked[:top]:
            lines.append(f"  {f['rank']:>3}. {f['score']:+.4f}  {f['label']}")
    return "\n".join(lines)


# -- cost table over N users ------------------------------------------------------------------------------
def _profile(args, inputs, model, target) -> int:
    from xrec_bench.explainers import Request
    from xrec_bench.explainers.profile import format_table, profile_explainer

    dataset, split = inputs.data.dataset, inputs.data.split
    cases = split.cases("test")
    n = min(args.profile, len(cases))
    histories = [_last(cases.histories[i], args.last) for i in range(n)]
    users = [int(cases.users[i]) for i in range(n)]
    targets = choose_targets(target, model, users, histories, [cases.targets[i] for i in range(n)])
    requests = [
        Request(user=u, target=t, history=h, exclude=np.asarray(cases.histories[i], dtype=np.int64))
        for i, (u, t, h) in enumerate(zip(users, targets, histories, strict=True))
    ]
    rows, hits = [], {}
    for spec in inputs.suite.explainers:
        explainer = inputs.explainer(spec)
        row = profile_explainer(model, explainer, requests, args.granularity, seed=inputs.seed)
        rows.append(row)
        if dataset.ground_truth is not None:
            hits[row.explainer] = planted_cause_top1(row.explanations, dataset)
    if args.json:
        out = [{**row.as_dict(), **({"cause_top1": hits[row.explainer]} if hits else {})} for row in rows]
        print(json.dumps(out, indent=2))
        return 0
    last = f", last {args.last} history items" if args.last else ""
    print(
        f"{args.model} on {args.dataset}, {n} test users, target {target}{last}, {args.granularity} granularity"
    )
    print(format_table(rows))
    if hits:
        print("\nplanted cause ranked first (share of explained users whose cause is among the features):")
        for name, (rate, users, k) in hits.items():
            print(f"  {name:<22} {rate:6.3f}  ({k}/{users})")
    return 0


def planted_cause_top1(explanations, dataset) -> tuple[float, int, int]:
    """Share of ok explanations whose top feature is a planted cause (history: item; tokens: word).

    Counts only explanations of the planted target in which a cause is among the features (a
    truncated history may have lost it). Returns ``(rate, users counted, hits)``.
    """
    truth = dataset.ground_truth.set_index("user")
    users = hits = 0
    for exp in explanations:
        if not exp.ok or exp.user not in truth.index or int(truth.loc[exp.user, "target"]) != exp.target:
            continue
        if exp.granularity == "history":
            causes = {str(i) for i in np.asarray(truth.loc[exp.user, "cause_items"]).tolist()}
            keys = [str(int(i)) for i in exp.feature_ids]
        else:
            causes = {w.lower() for w in truth.loc[exp.user, "cause_words"]}
            keys = [w.lower() for w in exp.feature_labels]
        if not causes & set(keys):
            continue
        users, hits = users + 1, hits + int(keys[int(exp.ranking()[0])] in causes)
    return (hits / users if users else float("nan")), users, hits


# -- helpers ---------------------------------------------------------------------------------------------
def _explainer_names(arg: str, registry, *, allow_many: bool) -> list[str]:
    names = registry.names() if arg == "all" else [s.strip() for s in arg.split(",") if s.strip()]
    if not allow_many and len(names) != 1:
        raise CliError(f"--explainer takes one name when explaining one user. Got {arg!r}.")
    for name in names:
        if name not in registry:
            raise CliError(registry.unknown_message(name))
    return names


def _declared(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``params`` that explainer ``name`` declares (all, when it takes any)."""
    from xrec_bench.cli.evaluate import declared_params
    from xrec_bench.explainers import EXPLAINERS

    declared = declared_params(EXPLAINERS, name)
    return dict(params) if declared is None else {k: v for k, v in params.items() if k in declared}


def _last(history, k: int | None) -> np.ndarray:
    history = np.asarray(history, dtype=np.int64)
    if k is None:
        return history
    if k < 1:
        raise CliError(f"--last must be an int >= 1. Got {k} instead.")
    return history[-k:]


def _index_of(column, original_id: str, what: str) -> int:
    matches = np.flatnonzero(column.astype(str).to_numpy() == str(original_id))
    if len(matches) == 0:
        examples = ", ".join(column.astype(str).head(3))
        raise CliError(f"Unknown {what} id {original_id!r}. Expected an original id such as {examples}.")
    return int(matches[0])


def _titles(dataset) -> list[str]:
    column = "title" if "title" in dataset.items.columns else "item_id"
    return dataset.items[column].astype(str).tolist()
