"""Early stopping shared by the BPR-MF and two-tower training loops."""

import pytest

from xrec_bench.models.ranking import EarlyStopping


def _run(scores, patience):
    stopper, states, seen = EarlyStopping(patience), iter(range(100)), []
    for s in scores:
        seen.append(s)
        if stopper.update(s, lambda: {"epoch": next(states)}):
            break
    return stopper, seen


def test_stops_after_patience_evaluations_without_improvement_and_keeps_the_best_state():
    stopper, seen = _run([0.1, 0.3, 0.2, 0.3, 0.25, 0.9], patience=3)
    assert seen == [0.1, 0.3, 0.2, 0.3, 0.25]  # 0.3 again is no improvement
    assert stopper.best == 0.3
    assert stopper.best_state == {"epoch": 1}  # state() is called only on a new best


def test_improvement_resets_the_count():
    stopper, seen = _run([0.1, 0.0, 0.2, 0.0, 0.3, 0.0, 0.0], patience=2)
    assert seen == [0.1, 0.0, 0.2, 0.0, 0.3, 0.0, 0.0]
    assert stopper.best == 0.3 and stopper.bad == 2


def test_first_evaluation_is_always_kept_and_state_is_a_deep_copy():
    live = {"w": [1.0]}
    stopper = EarlyStopping(1)
    assert not stopper.update(0.0, lambda: live)
    live["w"][0] = 2.0
    assert stopper.best_state == {"w": [1.0]}
    assert stopper.update(0.0, lambda: live)


@pytest.mark.parametrize("patience", [1, 5])
def test_never_stops_while_improving(patience):
    _, seen = _run([i / 10 for i in range(8)], patience)
    assert len(seen) == 8
