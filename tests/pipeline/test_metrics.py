import numpy as np
import pytest

from pipeline.metrics import classification_metrics, distribution_cross_entropy, format_metrics, shared_classes

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


def test_an_8_class_model_on_7_labels_is_scored_by_its_argmax_over_the_shared_classes():
    model_classes = ["a", "b", "c", "x"]
    probs = np.array([[0.1, 0.2, 0.1, 0.6], [0.5, 0.1, 0.1, 0.3], [0.2, 0.1, 0.3, 0.4]])
    scored, labels, names = shared_classes(probs, model_classes, np.array([1, 0, 0]), NAMES)
    assert names == ("a", "b", "c") and labels.tolist() == [1, 0, 0]
    np.testing.assert_allclose(scored[0], [0.25, 0.5, 0.25])  # renormalised without "x"
    assert classification_metrics(labels, scored, names)["accuracy"] == pytest.approx(2 / 3)


def test_a_7_class_model_on_8_labels_is_scored_on_the_faces_of_its_classes():
    probs = np.eye(3)[[0, 1, 2, 2]]
    label_classes = ["c", "x", "a", "b"]  # other order, and a class the model lacks
    scored, labels, names = shared_classes(probs, NAMES, np.array([2, 1, 0, 3]), label_classes)
    assert names == ("c", "a", "b") and labels.tolist() == [1, 0, 2]  # the "x" face is left out
    np.testing.assert_array_equal(scored, probs[[0, 2, 3]][:, [2, 0, 1]])  # nothing dropped: not renormalised
    only, only_labels, _ = shared_classes(probs, NAMES, np.array([2, 1, 0, 3]), label_classes, classes=["a", "b"])
    assert only_labels.tolist() == [0, 1]  # the "a" and "b" faces, "c" dropped from the faces and the model
    np.testing.assert_allclose(only, [[1.0, 0.0], [0.0, 0.0]])  # the last face's model put all on "c"
    with pytest.raises(ValueError, match="missing: \\['x'\\]"):
        shared_classes(probs, NAMES, np.array([0, 0, 0, 0]), label_classes, classes=["a", "x"])


def test_cross_entropy_against_distributions():
    probs = np.array([[0.5, 0.25, 0.25], [0.8, 0.1, 0.1]])
    targets = np.array([[0.5, 0.5], [1.0, 0.0]])  # over classes b, a
    expected = -(0.5 * np.log(0.25) + 0.5 * np.log(0.5) + np.log(0.1)) / 2
    assert distribution_cross_entropy(probs, NAMES, targets, ["b", "a"]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="The model has no \\['x'\\]"):
        distribution_cross_entropy(probs, NAMES, targets, ["b", "x"])
