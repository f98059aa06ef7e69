"""Classification metrics from labels and predicted probabilities (scikit-learn's, in a JSON-ready dict).

A model and the labels it is scored on may have different classes (an 8-class FER+ model on FER2013's
7 labels, a 7-class model on FER+ labels): ``shared_classes`` scores them over the classes both have,
matched by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def classification_metrics(labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, loss, per-class precision/recall/F1 and the confusion matrix.

    Args:
        labels: (N,) integer true labels.
        probs: (N, K) predicted class probabilities.
        class_names: The K class names, in label order.

    Returns:
        A JSON-ready dict with ``n``, ``accuracy``, ``loss`` (mean negative
        log-likelihood), ``macro_f1``, ``per_class`` ({name: precision, recall,
        f1, support}) and ``confusion_matrix`` (rows: true class, columns: predicted).
        A class never predicted has precision 0 (not NaN).

    Raises:
        ValueError: if the shapes disagree.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(class_names)
    if probs.ndim != 2 or probs.shape != (len(labels), k):
        raise ValueError(f"probs must have shape ({len(labels)}, {k}), got {probs.shape}")
    classes = list(range(k))
    predicted = probs.argmax(axis=1)
    if len(labels):
        precision, recall, f1, support = precision_recall_fscore_support(
            labels, predicted, labels=classes, zero_division=0
        )
        confusion = confusion_matrix(labels, predicted, labels=classes)
    else:  # scikit-learn refuses empty inputs
        precision = recall = f1 = support = np.zeros(k)
        confusion = np.zeros((k, k), np.int64)
    # Mean negative log-likelihood of the true class. Not sklearn's log_loss: that renormalises
    # each row, and int8 models' quantized probabilities do not sum to exactly 1.
    likelihood = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    return {
        "n": int(len(labels)),
        "accuracy": float(np.mean(predicted == labels)) if len(labels) else 0.0,
        "loss": float(-np.log(likelihood).mean()) if len(labels) else 0.0,
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion.tolist(),
    }


def shared_classes(
    probs: np.ndarray,
    model_classes: Sequence[str],
    labels: np.ndarray,
    label_classes: Sequence[str],
    classes: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """A model's probabilities and the true labels, over the classes that both have (or ``classes``).

    The model's choice among those classes is its most probable of them: an 8-class model scored on
    FER2013's labels by its argmax over the 7 shared emotions. Faces whose label is not among them
    are left out: a 7-class model is scored on the FER+ faces of the 7 FER2013 emotions.

    Args:
        probs: (N, K) the model's probabilities, in ``model_classes`` order.
        model_classes: The model's K class names.
        labels: (N,) true labels, indices into ``label_classes``.
        label_classes: The names of the label classes.
        classes: The classes to score over, a subset of both; None: every label class the model has.

    Returns:
        ``(probs, labels, names)``: probabilities (M, C) over the C classes ``names`` (label order),
        renormalised to sum to 1 when classes were dropped; labels (M,) as indices into ``names``; M is
        the number of faces whose label is one of them.

    Raises:
        ValueError: if the shapes disagree, or a class of ``classes`` is missing from the model or the labels.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or probs.shape != (len(labels), len(model_classes)):
        raise ValueError(f"probs must have shape ({len(labels)}, {len(model_classes)}), got {probs.shape}")
    names = tuple(n for n in label_classes if n in model_classes) if classes is None else tuple(classes)
    missing = [n for n in names if n not in model_classes or n not in label_classes]
    if missing or not names:
        raise ValueError(
            f"Cannot score classes {list(names)}: the model's are {list(model_classes)} and the labels' "
            f"{list(label_classes)}" + (f"; missing: {missing}" if missing else "")
        )
    if names == tuple(model_classes) == tuple(label_classes):
        return probs, labels, names
    columns = [list(model_classes).index(n) for n in names]
    label_to_scored = np.full(len(label_classes), -1, dtype=np.int64)
    for i, n in enumerate(names):
        label_to_scored[list(label_classes).index(n)] = i
    scored = label_to_scored[labels]
    kept = scored >= 0
    sub = probs[kept][:, columns]
    if len(columns) < len(model_classes):
        sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
    return sub, scored[kept], names


def distribution_cross_entropy(
    probs: np.ndarray, model_classes: Sequence[str], targets: np.ndarray, target_classes: Sequence[str]
) -> float:
    """The mean cross-entropy -sum(q log p) of a model's probabilities p against target distributions q.

    With FER+ soft labels, the calibration figure: how well the probabilities match the taggers' votes
    (the entropy of the votes is its floor).

    Args:
        probs: (N, K) the model's probabilities, in ``model_classes`` order.
        model_classes: The model's K class names.
        targets: (N, C) distributions over ``target_classes``.
        target_classes: The C class names of the targets; each must be one of the model's.

    Raises:
        ValueError: if the model lacks a class of the targets, or the shapes disagree.
    """
    missing = [n for n in target_classes if n not in model_classes]
    if missing:
        raise ValueError(f"The model has no {missing}: its classes are {list(model_classes)}")
    targets = np.asarray(targets, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    if targets.shape != (len(probs), len(target_classes)):
        raise ValueError(f"targets must have shape ({len(probs)}, {len(target_classes)}), got {targets.shape}")
    if not len(probs):
        return 0.0
    p = np.clip(probs[:, [list(model_classes).index(n) for n in target_classes]], 1e-7, 1.0)
    return float(-(targets * np.log(p)).sum(axis=1).mean())


def format_metrics(metrics: dict, title: str = "") -> str:
    """A plain-text report of ``classification_metrics`` output: summary, per-class table, confusion matrix."""
    names = list(metrics["per_class"])
    width = max(len(n) for n in names)
    lines = [title] if title else []
    lines.append(
        f"n={metrics['n']}  accuracy={metrics['accuracy']:.4f}  loss={metrics['loss']:.4f}  "
        f"macro_f1={metrics['macro_f1']:.4f}"
    )
    lines.append(f"{'class':<{width}}  precision  recall     f1  support")
    for name, m in metrics["per_class"].items():
        lines.append(f"{name:<{width}}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:5.3f}  {m['support']:7d}")
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * (width + 2) + " ".join(f"{n[:5]:>5}" for n in names))
    for name, row in zip(names, metrics["confusion_matrix"]):
        lines.append(f"{name:<{width}}  " + " ".join(f"{v:5d}" for v in row))
    return "\n".join(lines)


def format_label_figures(result: dict) -> str:
    """The lines of a FER+ evaluation beyond ``format_metrics``: the 7-emotion, FER2013 and calibration figures."""
    lines = []
    seven = result.get("ferplus_7_emotions")
    if seven:
        lines.append(
            f"FER+ faces of the 7 FER2013 emotions (argmax over them): accuracy={seven['accuracy']:.4f}  n={seven['n']}"
        )
    fer2013 = result.get("fer2013_labels")
    if fer2013:
        lines.append(
            f"same faces on FER2013's labels (argmax over the 7 emotions): accuracy={fer2013['accuracy']:.4f}  "
            f"macro_f1={fer2013['macro_f1']:.4f}  n={fer2013['n']}"
        )
    if "soft_label_cross_entropy" in result:
        lines.append(
            "calibration: mean cross-entropy against the FER+ vote distribution="
            f"{result['soft_label_cross_entropy']:.4f} (the votes' own entropy: {result['soft_label_entropy']:.4f})"
        )
    return "\n".join(lines)
