"""Classification metrics from labels and predicted probabilities (scikit-learn's, in a JSON-ready dict)."""

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
