"""Blessing a candidate model: does it pass the thresholds, against a baseline evaluated on the same faces?

``bless`` compares two ``classification_metrics`` results (``pipeline.metrics``): the candidate must reach
``min_accuracy``, lose at most ``max_accuracy_drop`` of accuracy against the baseline, and at most
``max_recall_drop`` of any class's recall and, when set, ``max_f1_drop`` of any class's F1. Every check that fails
becomes a reason; a model is pushed only when there is none.

Recall alone can block a better model: a baseline that over-predicts a class (FER2013's models and Fear) has a high
recall of it bought with many false alarms, which a better-calibrated candidate gives back. F1 weighs both sides;
``max_recall_drop=1, max_f1_drop=0.05`` compares classes by F1 alone.

Both results must be over the same classes of the same faces: an 8-class (FER+) candidate and a 7-class baseline
are compared over the classes they share, both scored with ``pipeline.metrics.shared_classes``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

EPSILON = 1e-9  # a drop exactly at the bar passes (0.75 - 0.70 is 0.05000000000000004 in floating point)


@dataclass(frozen=True)
class BlessingThresholds:
    """The bars a candidate must clear (fractions, not percent).

    Args:
        min_accuracy: Lowest accuracy accepted at all.
        max_accuracy_drop: Largest loss of accuracy against the baseline.
        max_recall_drop: Largest loss of any one class's recall against the baseline.
        max_f1_drop: Largest loss of any one class's F1 against the baseline; None: not checked.
    """

    min_accuracy: float = 0.0
    max_accuracy_drop: float = 0.01
    max_recall_drop: float = 0.05
    max_f1_drop: float | None = None


@dataclass
class Blessing:
    """The decision: ``blessed``, the ``reasons`` it was not (empty when blessed), and what was compared."""

    blessed: bool
    reasons: list[str] = field(default_factory=list)
    candidate: dict = field(default_factory=dict)
    baseline: dict | None = None
    thresholds: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _summary(metrics: dict) -> dict:
    return {
        "n": metrics["n"],
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "classes": list(metrics["per_class"]),
        "recall": {c: v["recall"] for c, v in metrics["per_class"].items()},
        "f1": {c: v["f1"] for c, v in metrics["per_class"].items()},
    }


def bless(candidate: dict, baseline: dict | None, thresholds: BlessingThresholds = BlessingThresholds()) -> Blessing:
    """Decide whether ``candidate`` may replace ``baseline`` (both ``classification_metrics`` of the same faces and
    classes).

    Args:
        candidate: The new model's metrics.
        baseline: The metrics of the model it would replace, or None for a first model (only ``min_accuracy``
            applies then).
        thresholds: The bars.

    Returns:
        A ``Blessing``; its ``reasons`` say, with numbers, every bar the candidate missed.

    Raises:
        ValueError: if the two were measured on different numbers of faces, or over different classes.
    """
    if baseline is not None and baseline["n"] != candidate["n"]:
        raise ValueError(
            f"the candidate was evaluated on {candidate['n']} faces and the baseline on {baseline['n']}: "
            "compare them on the same faces"
        )
    if baseline is not None and list(baseline["per_class"]) != list(candidate["per_class"]):
        raise ValueError(
            f"the candidate was scored over the classes {list(candidate['per_class'])} and the baseline over "
            f"{list(baseline['per_class'])}: score both over the classes they share (pipeline.metrics.shared_classes)"
        )
    reasons = []
    accuracy = candidate["accuracy"]
    if accuracy < thresholds.min_accuracy:
        reasons.append(f"accuracy {accuracy:.4f} is below the minimum {thresholds.min_accuracy:.4f}")
    if baseline is not None:
        drop = baseline["accuracy"] - accuracy
        if drop > thresholds.max_accuracy_drop + EPSILON:
            reasons.append(
                f"accuracy {accuracy:.4f} is {drop:.4f} below the baseline's {baseline['accuracy']:.4f} "
                f"(at most {thresholds.max_accuracy_drop:.4f} allowed)"
            )
        bars = {"recall": thresholds.max_recall_drop, "F1": thresholds.max_f1_drop}
        for name, before in baseline["per_class"].items():
            for metric, bar in bars.items():
                was, now = before[metric.lower()], candidate["per_class"][name][metric.lower()]
                if bar is not None and was - now > bar + EPSILON:
                    reasons.append(
                        f"{metric} of {name} {now:.4f} is {was - now:.4f} below the baseline's {was:.4f} "
                        f"(at most {bar:.4f} allowed)"
                    )
    return Blessing(
        blessed=not reasons,
        reasons=reasons,
        candidate=_summary(candidate),
        baseline=_summary(baseline) if baseline is not None else None,
        thresholds=asdict(thresholds),
    )
