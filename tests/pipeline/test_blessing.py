"""Blessing: a candidate passes or fails the thresholds against a baseline, and says why."""

import numpy as np
import pytest

from model_zoo.constants import CLASS_NAMES
from pipeline.blessing import BlessingThresholds, bless
from pipeline.metrics import classification_metrics


def metrics(correct_per_class: list[int], per_class: int = 20) -> dict:
    """Metrics of a model that gets ``correct_per_class[k]`` of ``per_class`` faces of class k right."""
    labels, probs = [], []
    for k, correct in enumerate(correct_per_class):
        for i in range(per_class):
            labels.append(k)
            probs.append(np.eye(7)[k if i < correct else (k + 1) % 7])
    return classification_metrics(np.array(labels), np.array(probs), CLASS_NAMES)


def test_a_better_candidate_is_blessed():
    decision = bless(metrics([15] * 7), metrics([14] * 7))
    assert decision.blessed and decision.reasons == []
    assert decision.candidate["accuracy"] == pytest.approx(0.75) and decision.baseline["accuracy"] == pytest.approx(0.7)


def test_a_worse_candidate_is_refused_with_every_reason():
    decision = bless(metrics([15, 15, 15, 15, 15, 15, 5]), metrics([15] * 7), BlessingThresholds(min_accuracy=0.8))
    assert not decision.blessed
    text = " ".join(decision.reasons)
    assert "below the minimum 0.8000" in text
    assert "below the baseline's 0.7500" in text
    assert "recall of Neutral 0.2500 is 0.5000 below" in text
    assert len(decision.reasons) == 3


def test_a_small_per_class_loss_within_the_bar_passes_and_a_first_model_needs_only_the_minimum():
    assert bless(metrics([15, 14, 15, 15, 15, 15, 15]), metrics([15] * 7)).blessed  # 0.05 recall drop, 0.007 accuracy
    first = bless(metrics([10] * 7), None, BlessingThresholds(min_accuracy=0.4))
    assert first.blessed and first.baseline is None
    assert not bless(metrics([10] * 7), None, BlessingThresholds(min_accuracy=0.6)).blessed


def test_metrics_on_different_faces_are_not_compared():
    with pytest.raises(ValueError, match="same faces"):
        bless(metrics([15] * 7, per_class=20), metrics([15] * 7, per_class=10))


def test_metrics_over_different_classes_are_not_compared():
    from model_zoo.constants import FERPLUS_CLASS_NAMES

    labels = np.arange(160) % 8
    eight = classification_metrics(labels, np.eye(8)[labels], FERPLUS_CLASS_NAMES)
    seven = classification_metrics(labels % 7, np.eye(7)[labels % 7], CLASS_NAMES)
    with pytest.raises(ValueError, match="over the classes they share"):
        bless(eight, seven)
    decision = bless(seven, seven)
    assert decision.candidate["classes"] == decision.baseline["classes"] == list(CLASS_NAMES)


def test_f1_blesses_a_candidate_that_gives_back_a_class_the_baseline_over_predicted():
    labels = np.repeat(np.arange(7), 20)
    baseline_guess, candidate_guess = labels.copy(), labels.copy()
    baseline_guess[labels == 4] = 2  # the baseline calls every Sad face Fear: Fear's recall 1.0, its precision 0.5
    candidate_guess[np.flatnonzero(labels == 2)[:3]] = 4  # the candidate misses 3 Fear faces, and gets Sad right
    baseline = classification_metrics(labels, np.eye(7)[baseline_guess], CLASS_NAMES)
    candidate = classification_metrics(labels, np.eye(7)[candidate_guess], CLASS_NAMES)
    by_recall = bless(candidate, baseline, BlessingThresholds(max_recall_drop=0.1))
    assert not by_recall.blessed and by_recall.reasons == [
        "recall of Fear 0.8500 is 0.1500 below the baseline's 1.0000 (at most 0.1000 allowed)"
    ]
    by_f1 = bless(candidate, baseline, BlessingThresholds(max_recall_drop=1.0, max_f1_drop=0.05))
    assert by_f1.blessed and by_f1.candidate["f1"]["Fear"] > by_f1.baseline["f1"]["Fear"]
    worse = bless(baseline, candidate, BlessingThresholds(max_recall_drop=1.0, max_f1_drop=0.05))
    assert any(reason.startswith("F1 of Sad 0.0000 is") for reason in worse.reasons)
