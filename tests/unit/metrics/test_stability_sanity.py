"""Run-to-run stability, input-perturbation stability, sanity check and infidelity on the linear toy."""

import numpy as np
import pytest
import torch
from captum.metrics import infidelity

from tests.unit.metrics.conftest import ExactLinear, Position, RandomScores
from xrec_bench.explainers.base import Request
from xrec_bench.metrics import EvalConfig, evaluate_explainer
from xrec_bench.metrics._tasks import WithoutFeature
from xrec_bench.metrics.infidelity import mask_infidelity
from xrec_bench.metrics.stability import relative_input_stability

STAB = ["run_kendall_tau", "max_sensitivity"]


@pytest.mark.parametrize("granularity", ["history", "tokens"])
def test_deterministic_explainer_is_perfectly_stable_run_to_run(toy, requests, granularity):
    r = evaluate_explainer(toy, ExactLinear(), requests, granularity=granularity, seed=0, metrics=STAB)
    assert np.all(r.per_user["run_kendall_tau"] == 1.0)
    assert np.all(r.per_user["run_jaccard@5"] == 1.0)


def test_stochastic_explainer_varies_run_to_run(toy, requests):
    r = evaluate_explainer(toy, RandomScores(), requests, granularity="history", seed=0, metrics=STAB)
    assert np.nanmean(r.per_user["run_kendall_tau"]) < 0.5


def test_rerun_stochastic_only_trusts_the_declaration(toy, requests):
    cfg = EvalConfig(rerun="stochastic", stability_users=3)
    r = evaluate_explainer(toy, Position(), requests, granularity="history", seed=0, metrics=STAB, config=cfg)
    assert np.all(r.per_user["run_kendall_tau"][:3] == 1.0) and np.all(np.isnan(r.per_user["run_kendall_tau"][3:]))


@pytest.mark.parametrize("granularity", ["history", "tokens"])
def test_exact_attributions_do_not_move_when_an_unimportant_feature_leaves(toy, requests, granularity):
    # linear model: the exact attribution of each remaining feature does not depend on the others
    exact = evaluate_explainer(toy, ExactLinear(), requests, granularity=granularity, seed=0, metrics=STAB)
    sens = exact.per_user["max_sensitivity"]
    assert np.isfinite(sens).sum() >= 3
    np.testing.assert_allclose(sens[np.isfinite(sens)], 0.0, atol=1e-6)
    np.testing.assert_allclose(exact.per_user["relative_input_stability"][np.isfinite(sens)], 0.0, atol=1e-5)
    rand = evaluate_explainer(toy, RandomScores(), requests, granularity=granularity, seed=0, metrics=STAB)
    assert np.nanmean(rand.per_user["max_sensitivity"]) > 0.1


def test_only_perturbations_that_keep_the_rank_count(toy, requests):
    cfg = EvalConfig(stability_k=1)
    # the explanation calls the most important features unimportant, so dropping them moves the target
    class Reversed(ExactLinear):
        name = "test-reversed"

        def _attribute(self, task, rng):
            return -super()._attribute(task, rng)

    r = evaluate_explainer(toy, Reversed(), requests, granularity="history", seed=0, metrics=STAB, config=cfg)
    reasons = [why for _, why in r.skipped if why.startswith("stability:")]
    assert np.isnan(r.per_user["max_sensitivity"]).sum() == len(reasons) > 0


def test_without_feature_task_matches_the_masked_base(toy):
    base = toy.feature_task("tokens", user=0, history=np.array([1, 2]), target=5)
    reduced = WithoutFeature(base, 1)
    assert reduced.n_features == base.n_features - 1
    mask = np.ones((1, base.n_features), dtype=np.float32)
    mask[0, 1] = 0
    assert float(reduced.forward(np.ones((1, reduced.n_features)))) == pytest.approx(float(base.forward(mask)))
    ids, att = base.input_ids, base._token_mask(torch.ones(1, base.n_features))
    assert float(reduced.forward_ids(ids, att).detach()) == pytest.approx(float(base.forward(mask)), rel=1e-5)
    assert int((reduced.word_of_token >= 0).sum()) == base.n_features - 1


def test_sanity_flags_an_explainer_that_ignores_the_model(toy, requests):
    ignores = evaluate_explainer(toy, Position(), requests, granularity="history", seed=0, metrics=["sanity"])
    assert ignores.flags["sanity_failed"] is True
    assert np.all(ignores.per_user["sanity_spearman"] == 1.0)
    exact = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["sanity"])
    assert exact.flags["sanity_failed"] is False
    assert np.nanmean(exact.per_user["sanity_spearman"]) < 0.7


def test_sanity_without_randomised_model_is_skipped_with_reason(toy, requests):
    class NoRandom(type(toy)):
        def randomized(self, seed):
            raise NotImplementedError("Model 'toy' has no randomised copy.")

    model = NoRandom()
    r = evaluate_explainer(model, ExactLinear(), requests, granularity="history", seed=0, metrics=["sanity"])
    assert np.all(np.isnan(r.per_user["sanity_spearman"]))
    assert any("no randomised copy" in why for _, why in r.skipped)


@pytest.mark.parametrize("granularity", ["history", "tokens"])
def test_infidelity_is_zero_for_exact_linear_attributions(toy, requests, granularity):
    exact = evaluate_explainer(toy, ExactLinear(), requests, granularity=granularity, seed=0, metrics=["infidelity"])
    np.testing.assert_allclose(exact.per_user["infidelity"], 0.0, atol=1e-6)
    rand = evaluate_explainer(toy, RandomScores(), requests, granularity=granularity, seed=0, metrics=["infidelity"])
    assert np.nanmean(rand.per_user["infidelity"]) > 0.05
    # normalize=True: a rescaled attribution is as faithful as the original
    class Scaled(ExactLinear):
        name = "test-scaled"

        def _attribute(self, task, rng):
            return 7.0 * super()._attribute(task, rng)

    scaled = evaluate_explainer(toy, Scaled(), requests, granularity=granularity, seed=0, metrics=["infidelity"])
    np.testing.assert_allclose(scaled.per_user["infidelity"], 0.0, atol=1e-6)

    # the fitted scale is clamped at 0: the negated exact explanation scores far worse than the exact one
    class Negated(ExactLinear):
        name = "test-negated"

        def _attribute(self, task, rng):
            return -super()._attribute(task, rng)

    neg = evaluate_explainer(toy, Negated(), requests, granularity=granularity, seed=0, metrics=["infidelity"])
    assert np.all(neg.per_user["infidelity"] > exact.per_user["infidelity"] + 1e-3)


def test_infidelity_on_an_additive_model_by_hand_and_against_captum():
    w = np.array([3.0, -1.0, 0.5, 2.0])

    def forward(mask):
        return mask.to(torch.float64) @ torch.as_tensor(w)

    kw = dict(n_samples=64, drop=0.25, seed=3)
    assert mask_infidelity(forward, w, **kw) == pytest.approx(0.0, abs=1e-12)
    # negated: beta would be -1 (a perfect fit); clamped at 0 the value is mean(b^2), that of all zeros
    zero = mask_infidelity(forward, np.zeros(4), **kw)
    assert zero > 0.5 and mask_infidelity(forward, -w, **kw) == pytest.approx(zero)
    # where the fitted scale is positive the value is captum's infidelity(normalize=True)
    noisy = w + np.array([0.5, 0.3, -0.4, 0.1])
    gen = torch.Generator().manual_seed(3)

    def perturb(x):
        removed = (torch.rand(x.shape, generator=gen) < 0.25).to(x.dtype)
        return removed, x * (1.0 - removed)

    ref = infidelity(lambda m: forward(m), perturb, torch.ones(1, 4, dtype=torch.float64),
                     torch.as_tensor(noisy).reshape(1, -1), n_perturb_samples=64, max_examples_per_batch=64,
                     normalize=True)
    assert mask_infidelity(forward, noisy, **kw) == pytest.approx(float(ref[0]), rel=1e-9)


def test_request_in_history_is_skipped_not_crashing(toy, requests):
    bad = Request(user=99, target=int(requests[0].history[0]), history=requests[0].history)
    r = evaluate_explainer(toy, ExactLinear(), [*requests[:2], bad], granularity="history", seed=0)
    assert np.isnan(r.per_user["deletion_auc"][2]) and np.isfinite(r.per_user["deletion_auc"][0])
    assert any(user == 99 and "already in the history" in why for user, why in r.skipped)


def test_relative_input_stability_by_hand():
    e = np.array([2.0, -1.0, 0.5, 4.0])
    # without feature 0: e' on features 1..3 = (-1.5, 0.5, 2.0): relative changes 0.5/-1, 0/0.5, 2/4
    # without feature 3: e' on features 0..2 = (2.0, -1.0, 1.0): relative changes 0, 0, -0.5/0.5
    perturbed = {0: np.array([-1.5, 0.5, 2.0]), 3: np.array([2.0, -1.0, 1.0])}
    expected = max(np.sqrt(0.5**2 + 0 + 0.5**2), 1.0)
    assert relative_input_stability(e, perturbed, 1e-6) == pytest.approx(expected)
    # element-wise, not sqrt(F) x max_sensitivity: a small attribution's relative change counts in full
    tiny = np.array([1.0, 0.01, 1.0])
    assert relative_input_stability(tiny, {0: np.array([0.02, 1.0])}, 1e-6) == pytest.approx(1.0)
    # attributions at zero are floored at 1e-4 of the largest |e| (sign kept), not divided by 0
    zero = np.array([1.0, 0.0, 1.0])
    assert relative_input_stability(zero, {2: np.array([1.0, 1e-4])}, 1e-6) == pytest.approx(1.0)
    assert np.isnan(relative_input_stability(np.zeros(3), {0: np.zeros(2)}, 1e-6))


class NoisyExact(ExactLinear):
    """The exact attribution plus sampling noise: faithful and input-stable, but noisy run to run."""

    name = "test-noisy-exact"
    stochastic = True

    def _attribute(self, task, rng):
        exact = super()._attribute(task, rng)
        return exact + rng.normal(0.0, 0.3 * np.abs(exact).mean(), len(exact))


def test_run_sensitivity_reports_the_explainers_own_noise(toy, requests):
    det = evaluate_explainer(toy, ExactLinear(), requests, granularity="history", seed=0, metrics=["run_sensitivity"])
    np.testing.assert_allclose(det.per_user["run_sensitivity"], 0.0)
    noisy = evaluate_explainer(toy, NoisyExact(), requests, granularity="history", seed=0,
                               metrics=["run_sensitivity"])
    assert np.all(noisy.per_user["run_sensitivity"] > 0.05)


def test_input_sensitivity_of_stochastic_explainers_is_measured_on_seed_averages(toy, requests):
    def sens(seeds):
        cfg = EvalConfig(stability_seeds=seeds, stability_users=6)
        r = evaluate_explainer(toy, NoisyExact(), requests, granularity="history", seed=0,
                               metrics=["max_sensitivity"], config=cfg)
        return np.nanmean(r.per_user["max_sensitivity"])

    # the exact attribution does not change on the shared features, so all sensitivity here is noise:
    # averaging 16 seeds cuts it by about 4 (1/sqrt(16))
    one, many = sens(1), sens(16)
    assert many < 0.5 * one
