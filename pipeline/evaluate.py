"""Accuracy, per-class precision/recall/F1 and the confusion matrix of any artifact on FER2013.

``evaluate`` runs one artifact (a ``.keras`` file, a SavedModel directory or a ``.tflite``
file) on one split; ``evaluate_arrays`` scores a predictor on faces already in memory, as
``fer-train`` does for its final metrics. The command is ``fer-eval`` (``pipeline.cli.evaluate``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fer_runtime.predictors import Predictor, load_predictor, predict_in_batches
from model_zoo.constants import CLASS_NAMES
from pipeline.fer2013_dataset import load_fer2013
from pipeline.input_pipeline import dataset_to_arrays
from pipeline.metrics import classification_metrics


def evaluate_arrays(predictor: Predictor, images: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> dict:
    """``classification_metrics`` of ``predictor`` on uint8 ``images`` with true ``labels``.

    Args:
        predictor: Any predictor of ``fer_runtime.predictors``.
        images: uint8 (N, H, W, C) faces.
        labels: (N,) integer labels.
        batch_size: Faces per call of the predictor.
    """
    probs = predict_in_batches(predictor, images, batch_size)
    return classification_metrics(labels, probs, CLASS_NAMES)


def evaluate(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    data_dir: str | Path | None = None,
    batch_size: int = 256,
    skip_bad_rows: bool = False,
) -> dict:
    """Evaluate the artifact at ``model`` on one split of the FER2013 data at ``data``.

    Returns:
        ``classification_metrics`` (``accuracy``, ``n``, ``loss``, ``macro_f1``,
        ``per_class``, ``confusion_matrix``) plus ``model``, ``backend`` (its name in the
        artifact table), ``data``, ``split`` and ``seconds``.

    Raises:
        FileNotFoundError: if no model is at ``model``.
        ValueError: if ``model`` is not a supported artifact.
        KeyError: if the data lack ``split``; the message lists the splits present.
        MissingDataError, BadRowError: from the dataset.
    """
    predictor = load_predictor(model)
    images, labels = dataset_to_arrays(load_fer2013(data, data_dir, skip_bad_rows).split(split))
    started = time.perf_counter()
    metrics = evaluate_arrays(predictor, images, labels, batch_size)
    seconds = time.perf_counter() - started
    return {
        "model": str(model),
        "backend": predictor.name,
        "data": str(data),
        "split": split,
        **metrics,
        "seconds": round(seconds, 3),
    }
