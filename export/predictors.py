"""One interface for running any artifact of the project on uint8 images.

``load_predictor(path)`` picks the backend from the path: a ``.keras`` file, a
SavedModel directory or a ``.tflite`` file. Every predictor maps a uint8 batch
(N, H, W, C) to (N, 7) class probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Predictor(Protocol):
    """Something that turns uint8 images (N, H, W, C) into class probabilities (N, K)."""

    name: str

    def predict(self, images: np.ndarray) -> np.ndarray: ...


class KerasPredictor:
    """A ``.keras`` model run with ``predict_on_batch`` (a compiled graph, not eager)."""

    def __init__(self, path_or_model):
        import keras

        from model_zoo import load_model

        self.model = path_or_model if isinstance(path_or_model, keras.Model) else load_model(path_or_model)
        self.name = "keras"

    def predict(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(_as_uint8_batch(images)))


def load_predictor(path: str | Path) -> Predictor:
    """A predictor for the artifact at ``path``.

    Raises:
        FileNotFoundError: if nothing is at ``path``.
        ValueError: if ``path`` is not a ``.keras`` file, a SavedModel directory or a ``.tflite`` file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}")
    if path.suffix == ".keras":
        return KerasPredictor(path)
    raise ValueError(f"{path} is not a model this project can run: expected a .keras file")


def predict_in_batches(predictor: Predictor, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Run ``predictor`` over ``images`` in chunks of ``batch_size`` and stack the probabilities."""
    outputs = [predictor.predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate(outputs) if outputs else np.zeros((0, 7), np.float32)


def _as_uint8_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"Predictors take uint8 images, got {images.dtype}")
    if images.ndim == 3:  # one image, or a batch of gray images without a channel axis
        images = images[..., None] if images.shape[-1] not in (1, 3) else images[None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"Predictors take (N, H, W, 1 or 3) uint8 images, got shape {images.shape}")
    return images
