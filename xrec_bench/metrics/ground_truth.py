"""Agreement of attributions with planted causes, on users where the MODEL uses the cause.

``ground_truth`` is the dataset's frame (``user``, ``target``, ``cause_items``, ``cause_words``).
History: a feature is relevant if its item id (``explanation.feature_ids``) is a cause item.
Tokens: a feature is relevant if its word (``explanation.feature_labels``), lower-cased and with
surrounding punctuation stripped, is a cause word (every occurrence counts). Fields: a field (label
``name: value``) is relevant if a word of its value is a cause word (on synthetic data, the keyword
field that holds the planted word).

The planted cause explains how the DATA were generated, not what the trained model learned: an
explainer that recovers it from the data alone (item co-occurrence, embedding similarity) would
score well without looking at the model. So agreement is scored only where the model provably
uses the cause: its leave-one-out drop (``s_full - s_without_feature``, the model's own removal)
is the largest of all features and exceeds the largest drop of any other feature by at least
``EvalConfig.gt_margin`` standard deviations of all items' scores. ``gt_coverage`` (1 / 0 per
request; its mean is the share) says on how many users that holds; elsewhere the agreement
metrics are NaN, with a recorded reason. Caveat: the test IS the leave-one-out explainer's top
feature, so on covered users ``leave-one-out`` agrees by construction (precision@1 = 1); its
ground-truth row is a reference, and the informative comparison is among the other explainers
(and against their randomised-model control). Token level: the planted word is one word of the target's
text, and the trained two-tower rarely relies on it (quick v2: its exact Shapley value ranked it
first for 0 of 25 users; this test passes for 5 of 25 synthetic users with the quick model), so
token-level agreement is scored on few users, and tables never bold a metric under 30 users. The
word is not re-planted: the coverage says how rarely it matters, rather than crowning an explainer
for finding a word the model ignores.

Control (Adebayo et al.'s randomisation, applied to ground truth): on the first
``EvalConfig.gt_control_users`` covered requests the explainer explains the same request on the
randomised model (the sanity stage's copy, same seed); ``gt_ap_randomized`` is its agreement there,
to be read against ``gt_ap_chance``, the expected average precision of a uniformly random ranking
of the same features (:func:`expected_random_ap`), and ``gt_coverage_randomized``, the share of
these users on which the randomised model itself passes the same leave-one-out test. A randomly
initialised text encoder still maps two texts that share a keyword close together, so the
randomised two-tower can still use the planted cause: where it does not, a faithful explainer
falls to chance; a model-blind one stays high, which shows its agreement comes from the data.

precision@k: share of the top ``k`` features (the explanation's ranking; ``min(k, F)`` when
``F < k``) that are relevant. Average precision: ``sklearn.metrics.average_precision_score`` of
the attributions against the relevance labels (tied scores form one threshold).
"""

from __future__ import annotations

import string
import weakref

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from xrec_bench.contract import Output
from xrec_bench.metrics.base import register
from xrec_bench.metrics.sanity import randomized_copy
from xrec_bench.metrics.stages import BatchMetric, Context, StageOutput, score_sd
from xrec_bench.seeding import derive_seed

OUTPUTS = (
    Output("gt_precision@k", "higher", "ground-truth", "share of the top k",
           "Share of the k top-ranked features that are planted causes, on users whose model uses the cause.",
           k_from="gt_ks"),
    Output("gt_ap", "higher", "ground-truth", "average precision",
           "Average precision of the attributions against the planted causes, on users whose model provably uses "
           "the cause (its leave-one-out drop is first by a margin; leave-one-out itself therefore agrees by "
           "construction)."),
    Output("gt_coverage", "higher", "ground-truth", "share of users",
           "Share of users with a planted cause among the features on which the model provably uses it (the users "
           "gt_ap is scored on); the same for every explainer.", ranked=False),
    Output("gt_ap_randomized", "lower", "ground-truth", "average precision",
           "Control: gt_ap of the same explainer on the randomised model (same users); should fall to "
           "gt_ap_chance. A model-blind explainer stays high.", ranked=False),
    Output("gt_coverage_randomized", "lower", "ground-truth", "share of users",
           "Control users on which the randomised model itself provably uses the planted cause (same "
           "leave-one-out test): where it does, gt_ap_randomized need not fall to chance.", ranked=False),
    Output("gt_ap_chance", "higher", "ground-truth", "average precision",
           "Expected average precision of a uniformly random ranking of the same features (chance level).",
           ranked=False),
)

NOT_USED = "ground truth: the model does not provably use the planted cause (leave-one-out margin)"

#: per model: (granularity, user, target, features) -> does the model use the cause (bool), shared by
#: every explainer evaluated on the same model
_USES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def normalise_word(word: str) -> str:
    return str(word).strip().strip(string.punctuation).lower()


def relevance(explanation, causes_row, granularity: str) -> np.ndarray:
    """0/1 per feature: is it a planted cause?"""
    if granularity == "history":
        causes = {int(i) for i in np.asarray(causes_row["cause_items"]).reshape(-1)}
        return np.array([int(i) in causes for i in explanation.feature_ids], dtype=np.int64)
    causes = {normalise_word(w) for w in causes_row["cause_words"]}
    if granularity == "fields":  # "name: value": relevant if a word of the value is a cause word
        return np.array([bool(causes & {normalise_word(w) for w in str(label).partition(": ")[2].split()})
                         for label in explanation.feature_labels], dtype=np.int64)
    return np.array([normalise_word(w) in causes for w in explanation.feature_labels], dtype=np.int64)


def precision_at_k(ranking: np.ndarray, relevant: np.ndarray, k: int) -> float:
    top = np.asarray(ranking)[: min(k, len(ranking))]
    return float(np.mean(np.asarray(relevant)[top])) if len(top) else float("nan")


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    relevant = np.asarray(relevant)
    if relevant.sum() == 0:
        return float("nan")
    if relevant.all():
        return 1.0
    return float(average_precision_score(relevant, np.asarray(scores, dtype=np.float64)))


def expected_random_ap(n_features: int, n_relevant: int) -> float:
    """Expected average precision of a uniformly random ranking of ``n_features`` with ``n_relevant``.

    AP = (1/R) sum over relevant positions k of precision@k. Position k holds a relevant feature with
    probability R/N, and given that, the other k-1 positions hold (R-1)(k-1)/(N-1) relevant ones on
    average, so E[AP] = (1/N) sum_k (1 + (R-1)(k-1)/(N-1)) / k. Hand-written: closed form, no library.
    """
    n, r = int(n_features), int(n_relevant)
    if r <= 0 or n <= 0:
        return float("nan")
    if n == 1 or r >= n:
        return 1.0
    k = np.arange(1, n + 1, dtype=np.float64)
    return float(np.sum((1.0 + (r - 1) * (k - 1) / (n - 1)) / k) / n)


def leave_one_out_drops(task) -> np.ndarray:
    """``s_full - s_without_j`` for every feature ``j`` (the model's own removal)."""
    f = task.n_features
    masks = torch.cat([torch.ones(1, f), 1.0 - torch.eye(f)])
    with torch.no_grad():
        scores = task.forward(masks).double().numpy()
    return scores[0] - scores[1:]


def model_uses(drops: np.ndarray, relevant: np.ndarray, margin: float) -> bool:
    """True when a relevant feature has the largest drop, ahead of every other feature by ``margin``."""
    relevant = np.asarray(relevant, dtype=bool)
    if not relevant.any():
        return False
    if relevant.all():
        return True
    lead = float(np.max(drops[relevant])) - float(np.max(drops[~relevant]))
    return lead >= margin and lead > 0


def uses_cause(model, granularity: str, req, rel: np.ndarray, margin_sd: float) -> bool:
    """Does ``model`` provably use the features marked in ``rel`` for ``req`` (cached per model)?"""
    key = (granularity, int(req.user), int(req.target), tuple(np.asarray(req.history).tolist()), margin_sd)
    cache = _USES.setdefault(model, {})
    if key not in cache:
        task = model.feature_task(granularity, user=req.user, history=req.history, target=req.target,
                                  exclude=req.exclude)
        if task.n_features != len(rel):
            raise ValueError(f"ground truth: {len(rel)} relevance labels for {task.n_features} features")
        cache[key] = model_uses(leave_one_out_drops(task), rel, margin_sd * score_sd(task))
    return cache[key]


def _run(ctx: Context) -> StageOutput:
    n, cfg = len(ctx.requests), ctx.config
    out = StageOutput(per_user={name: np.full(n, np.nan) for name in GroundTruth.names(cfg)})
    by_user = {int(row["user"]): row for _, row in ctx.ground_truth.iterrows()}
    covered: list[tuple[int, np.ndarray]] = []
    for i, (req, expl) in enumerate(zip(ctx.requests, ctx.explanations, strict=True)):
        if not expl.ok:
            continue
        row = by_user.get(int(req.user))
        if row is None or int(row["target"]) != int(req.target):
            out.skipped.append((req.user, "ground truth: the request's target is not the planted target"))
            continue
        rel = relevance(expl, row, ctx.granularity)
        if rel.sum() == 0:
            out.skipped.append((req.user, "ground truth: none of the planted causes is among the features"))
            continue
        uses = uses_cause(ctx.model, ctx.granularity, req, rel, cfg.gt_margin)
        out.per_user["gt_coverage"][i] = float(uses)
        if not uses:
            out.skipped.append((req.user, NOT_USED))
            continue
        ranking = expl.ranking()
        for k in cfg.gt_ks:
            out.per_user[f"gt_precision@{k}"][i] = precision_at_k(ranking, rel, k)
        out.per_user["gt_ap"][i] = average_precision(expl.scores, rel)
        out.per_user["gt_ap_chance"][i] = expected_random_ap(len(rel), int(rel.sum()))
        covered.append((i, rel))
    _control(ctx, covered[: cfg.gt_control_users] if cfg.gt_control_users is not None else covered, out)
    return out


def _control(ctx: Context, covered: list[tuple[int, np.ndarray]], out: StageOutput) -> None:
    """gt_ap of the same explainer, same requests, same seed, on the randomised model."""
    if not covered:
        return
    try:
        randomized = randomized_copy(ctx.model, derive_seed(ctx.seed, "sanity"))  # the sanity stage's copy
    except NotImplementedError as exc:
        out.skipped.extend((ctx.requests[i].user, f"ground-truth control: {exc}") for i, _ in covered)
        return
    again = ctx.explainer.explain(randomized, [ctx.requests[i] for i, _ in covered], granularity=ctx.granularity,
                                  seed=ctx.seed)
    for (i, rel), other in zip(covered, again, strict=True):
        if not other.ok or other.scores.shape != rel.shape:
            out.skipped.append((ctx.requests[i].user, "ground-truth control: no comparable explanation on the "
                                                      f"randomised model ({other.reason or 'different features'})"))
            continue
        out.per_user["gt_ap_randomized"][i] = average_precision(other.scores, rel)
        out.per_user["gt_coverage_randomized"][i] = float(
            uses_cause(randomized, ctx.granularity, ctx.requests[i], rel, ctx.config.gt_margin))


@register
class GroundTruth(BatchMetric):
    """Agreement with the causes planted by the synthetic dataset, with a randomised-model control."""

    name = "ground-truth"
    outputs = OUTPUTS
    options = ("gt_ks", "gt_margin", "gt_control_users")
    needs = frozenset({"model", "explainer", "ground_truth"})
    run_batch = staticmethod(_run)
