"""Accuracy, per-class precision/recall/F1 and the confusion matrix of any artifact on FER2013 or FER+ labels.

``evaluate`` runs one artifact (a ``.keras`` file, a SavedModel directory or a ``.tflite``
file) on one split; ``evaluate_arrays`` scores a predictor on faces already in memory, and
``score_examples`` scores probabilities on a split's examples, as ``fer-train`` does for its final
metrics. The command is ``fer-eval`` (``pipeline.cli.evaluate``).

A model has 7 classes (trained on FER2013's labels) or 8 (FER+, with contempt); the number comes from
its output, the names from the ``labels.txt`` beside it. It is scored over the classes it shares with
the labels (``pipeline.metrics.shared_classes``): an 8-class model on FER2013 labels by its argmax over
the 7 FER2013 emotions, a 7-class model on FER+ labels over the faces of those 7 emotions.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fer_runtime.predictors import Predictor, load_predictor, predict_in_batches
from model_zoo.constants import (
    CLASS_NAMES,
    DEFAULT_LABEL_MODE,
    LABELS_FILE,
    SOFT_LABEL_MODES,
    class_names_for_width,
    label_mode_class_names,
    read_labels,
)
from pipeline.fer2013_dataset import load_fer2013
from pipeline.input_pipeline import examples_to_arrays
from pipeline.metrics import classification_metrics, distribution_cross_entropy, shared_classes


def evaluate_arrays(
    predictor: Predictor,
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 256,
    class_names: tuple[str, ...] = CLASS_NAMES,
) -> dict:
    """``classification_metrics`` of ``predictor`` on uint8 ``images`` with true ``labels``.

    Args:
        predictor: Any predictor of ``fer_runtime.predictors``; it outputs one probability per class.
        images: uint8 (N, H, W, C) faces.
        labels: (N,) integer labels, indices into ``class_names``.
        batch_size: Faces per call of the predictor.
        class_names: The model's classes, which are also the labels' (default: FER2013's seven).

    Raises:
        ValueError: if the model's output does not have ``len(class_names)`` classes.
    """
    probs = predict_in_batches(predictor, images, batch_size)
    return classification_metrics(labels, probs, class_names)


def model_class_names(model: str | Path, num_outputs: int) -> tuple[str, ...]:
    """The class names of the model at ``model``, which outputs ``num_outputs`` probabilities.

    From the ``labels.txt`` beside it (in a ``.keras`` or ``.tflite`` file's directory; in a
    SavedModel directory or its parent: a run or an export directory), else from the count: 7 are
    FER2013's classes, 8 FER+'s.

    Raises:
        ValueError: if ``labels.txt`` lists another number of classes than the model outputs, or
            there is no ``labels.txt`` and no label mode has ``num_outputs`` classes.
    """
    path = Path(model)
    for directory in [path.parent] if path.is_file() else [path, path.parent]:
        if (directory / LABELS_FILE).is_file():
            names = read_labels(directory)
            if len(names) != num_outputs:
                raise ValueError(
                    f"{directory / LABELS_FILE} lists {len(names)} classes but {path} outputs {num_outputs}: "
                    "the file belongs to another model. Fix or remove it."
                )
            return names
    try:
        return class_names_for_width(num_outputs)
    except ValueError:
        raise ValueError(
            f"{path} outputs {num_outputs} probabilities and has no {LABELS_FILE} beside it naming its classes; "
            f"write one (one class name per line, in output order)."
        ) from None


def score_examples(
    probs: np.ndarray, model_classes: tuple[str, ...], examples: dict[str, np.ndarray], label_mode: str
) -> dict:
    """The figures of a model's probabilities on a split's examples labelled by ``label_mode``.

    Args:
        probs: (N, K) the model's probabilities, in ``model_classes`` order.
        model_classes: The model's K class names.
        examples: The split's ``label`` (N,) and, with FER+ labels, ``fer2013_label`` (N,) and
            ``soft_label`` (N, 8), as ``examples_to_arrays`` gives them (images are not needed).
        label_mode: The labels' mode (a key of ``LABEL_MODES``).

    Returns:
        ``classification_metrics`` against ``label`` over the classes the model and the labels share.
        With FER+ labels, also ``ferplus_7_emotions`` (``accuracy``, ``n``: the faces whose FER+ label is
        one of the 7 FER2013 emotions, the model's argmax over those 7), ``fer2013_labels``
        (``classification_metrics`` of the same faces against their FER2013 labels, argmax over the 7)
        and, with soft labels and a model that has every FER+ class, ``soft_label_cross_entropy``: the
        mean cross-entropy of the probabilities against the vote distributions (the calibration
        figure; ``soft_label_entropy``, the votes' own entropy, is its floor).

    Raises:
        ValueError: if the model shares no class with the labels, or the shapes disagree.
    """
    label_classes = label_mode_class_names(label_mode)
    probs_shared, labels_shared, names = shared_classes(probs, model_classes, examples["label"], label_classes)
    result = classification_metrics(labels_shared, probs_shared, names)
    if label_mode == DEFAULT_LABEL_MODE:
        return result
    probs_7, labels_7, _ = shared_classes(probs, model_classes, examples["label"], label_classes, CLASS_NAMES)
    result["ferplus_7_emotions"] = {
        "accuracy": float(np.mean(probs_7.argmax(axis=1) == labels_7)) if len(labels_7) else 0.0,
        "n": int(len(labels_7)),
    }
    probs_fer, labels_fer, names_fer = shared_classes(
        probs, model_classes, examples["fer2013_label"], CLASS_NAMES, CLASS_NAMES
    )
    result["fer2013_labels"] = classification_metrics(labels_fer, probs_fer, names_fer)
    if label_mode in SOFT_LABEL_MODES and set(label_classes) <= set(model_classes):
        targets = np.asarray(examples["soft_label"], dtype=np.float64)
        result["soft_label_cross_entropy"] = distribution_cross_entropy(probs, model_classes, targets, label_classes)
        entropy = -(targets * np.log(np.where(targets > 0, targets, 1.0))).sum(axis=1)
        result["soft_label_entropy"] = float(entropy.mean()) if len(targets) else 0.0
    return result


def evaluate(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    data_dir: str | Path | None = None,
    batch_size: int = 256,
    skip_bad_rows: bool = False,
    labels: str = DEFAULT_LABEL_MODE,
    ferplus: str | Path | None = None,
) -> dict:
    """Evaluate the artifact at ``model`` on one split of the FER2013 data at ``data``, labelled by ``labels``.

    Args:
        model: A ``.keras`` file, a SavedModel directory or a ``.tflite`` file (7 or 8 classes).
        data: FER2013 (see ``load_fer2013``).
        split: ``train``, ``validation`` or ``test``.
        data_dir: The prepared-dataset cache.
        batch_size: Faces per call of the model.
        skip_bad_rows: Skip malformed rows of the data.
        labels: The labels to score against (``fer2013``, ``ferplus-majority``, ``ferplus-soft``).
        ferplus: The FER+ file of the FER+ modes (default: found beside the FER2013 CSV).

    Returns:
        ``score_examples``'s figures (``accuracy``, ``n``, ``loss``, ``macro_f1``, ``per_class``,
        ``confusion_matrix``, and the FER+ figures) plus ``model``, ``backend`` (its name in the
        artifact table), ``model_classes``, ``data``, ``labels``, ``split`` and ``seconds``.

    Raises:
        FileNotFoundError: if no model is at ``model``.
        ValueError: if ``model`` is not a supported artifact, or its classes cannot be told.
        KeyError: if the data lack ``split``; the message lists the splits present.
        MissingDataError, MissingFerPlusError, BadRowError, FerPlusError: from the dataset.
    """
    predictor = load_predictor(model)
    fer = load_fer2013(data, data_dir, skip_bad_rows, labels, ferplus)
    fer.split(split)  # a missing split fails here, with the splits present
    examples = examples_to_arrays(fer.examples[split])
    started = time.perf_counter()
    probs = predict_in_batches(predictor, examples["image"], batch_size)
    seconds = time.perf_counter() - started
    model_classes = model_class_names(model, probs.shape[1])
    return {
        "model": str(model),
        "backend": predictor.name,
        "model_classes": list(model_classes),
        "data": str(data),
        "labels": labels,
        "split": split,
        **score_examples(probs, model_classes, examples, labels),
        "seconds": round(seconds, 3),
    }
