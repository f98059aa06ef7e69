"""Classification metrics from labels and predicted probabilities (NumPy only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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

    Raises:
        ValueError: if the shapes disagree.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    k = len(class_names)
    if probs.ndim != 2 or probs.shape != (len(labels), k):
        raise ValueError(f"probs must have shape ({len(labels)}, {k}), got {probs.shape}")
    predicted = probs.argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_positive = np.diag(confusion).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(true_positive / confusion.sum(axis=0))
        recall = np.nan_to_num(true_positive / confusion.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    eps = 1e-7
    loss = float(-np.log(np.clip(probs[np.arange(len(labels)), labels], eps, 1.0)).mean()) if len(labels) else 0.0
    return {
        "n": int(len(labels)),
        "accuracy": float(true_positive.sum() / max(len(labels), 1)),
        "loss": loss,
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(confusion[i].sum()),
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
