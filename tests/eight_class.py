"""An 8-class (FER+) tiny model, a run directory holding it and its export: built once per test session.

The tools that read an export's classes (the exporter and its gate, the predictors, ``fer-bench``, the recognizer,
the pipeline's stages) are tested on it, through the session fixture ``eight_class`` of ``tests/conftest.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

EIGHT = 8


@dataclass(frozen=True)
class EightClass:
    """The 8-class model (``model.keras``), a ``fer-train``-like run directory of it and its export.

    Attributes:
        model_path: The trained model, saved as ``.keras`` outside any run directory (no ``labels.txt`` beside it).
        run_dir: A run directory: ``best.keras``, ``labels.txt`` (FER+'s classes) and ``config.json`` (no data).
        export: ``export_all``'s result on generated 8-class faces (labels recorded as ``ferplus-majority``).
        val_images, val_labels: The generated faces the gate measured, and their classes.
    """

    model_path: Path
    run_dir: Path
    export: object
    val_images: np.ndarray
    val_labels: np.ndarray


def eight_class_faces(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` generated (48, 48, 1) faces of 8 classes, each class its own brightness (``make_examples``' pattern)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % EIGHT
    rng.shuffle(labels)
    base = (labels[:, None, None] * 30 + 20).astype(np.float64)
    return np.clip(base + rng.normal(0, 20, (n, 48, 48)), 0, 255).astype(np.uint8)[..., None], labels


def _train(seed: int):
    """seed_cnn_tiny with 8 outputs, trained a few steps, then its BatchNorm statistics recomputed.

    90 steps leave the moving statistics behind the weights; recomputed on the training faces, the model is right
    on every generated face, its top class ahead by 0.2 or more (measured): confident enough for the int8 gate.
    """
    import keras

    from model_zoo import create_model
    from model_zoo.batchnorm_recalibration import recalibrate_batchnorm

    images, labels = eight_class_faces(240, seed=1)
    keras.utils.set_random_seed(seed)
    epochs, batch_size = 6, 16
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=epochs * -(-len(labels) // batch_size))
    model = create_model("seed_cnn_tiny", num_classes=EIGHT, conv_dropout=0.0, dense_dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=epochs, batch_size=batch_size, verbose=0)
    recalibrate_batchnorm(model, images, 256)
    return model, images


def eight_class_model(tmp_path_factory: pytest.TempPathFactory, seed: int) -> EightClass:
    """An 8-class model, a run directory of it and its export, built in a new directory of ``tmp_path_factory``."""
    from export.exporter import export_all
    from model_zoo.constants import FERPLUS_CLASS_NAMES, write_labels

    model, train_images = _train(seed)
    base = tmp_path_factory.mktemp("eight-class")
    model_path = base / "model.keras"
    model.save(model_path)
    run_dir = base / "run"
    run_dir.mkdir()
    model.save(run_dir / "best.keras")
    write_labels(run_dir, FERPLUS_CLASS_NAMES)
    (run_dir / "config.json").write_text(json.dumps({"model": "seed_cnn_tiny", "labels": "ferplus-majority"}))
    val_images, val_labels = eight_class_faces(160, seed=2)
    export = export_all(
        model_path, base / "export", val_images, val_labels, train_images[:100], labels="ferplus-majority"
    )
    return EightClass(model_path, run_dir, export, val_images, val_labels)
