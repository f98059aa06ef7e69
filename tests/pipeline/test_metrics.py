import numpy as np
import pytest

from pipeline.metrics import classification_metrics, format_metrics

NAMES = ["a", "b", "c"]


def test_metrics_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    probs = np.eye(3)[predicted] * 0.8 + 0.2 / 3
    m = classification_metrics(labels, probs, NAMES)
    assert m["n"] == 6 and m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3) and m["per_class"]["b"]["recall"] == 1.0
    assert m["per_class"]["c"]["precision"] == 1.0 and m["per_class"]["c"]["recall"] == 0.5
    assert m["loss"] == pytest.approx(-np.mean(np.log(probs[np.arange(6), labels])))
    text = format_metrics(m, "title")
    assert "accuracy=0.6667" in text and "confusion matrix" in text


def test_class_never_predicted_has_zero_precision_not_nan():
    m = classification_metrics(np.array([0, 1]), np.eye(3)[[0, 0]], NAMES)
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="probs must have shape"):
        classification_metrics(np.array([0, 1]), np.zeros((2, 4)), NAMES)
