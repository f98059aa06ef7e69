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


ATTEMPTS = 4  # trainings tried, from seeds derived from the session's --test-seed, before the fixture gives up
MIN_MARGIN = 0.05  # of the top class over the second on every training face: 12 steps of the int8 outputs (1/256)


def _train_once(seed: int, images: np.ndarray, labels: np.ndarray):
    import keras

    from model_zoo import create_model
    from model_zoo.batchnorm_recalibration import recalibrate_batchnorm

    keras.utils.set_random_seed(seed)
    epochs, batch_size = 10, 16
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, decay_steps=epochs * -(-len(labels) // batch_size))
    model = create_model("seed_cnn_tiny", num_classes=EIGHT, conv_dropout=0.0, dense_dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=epochs, batch_size=batch_size, verbose=0)
    recalibrate_batchnorm(model, images, 256)
    return model


def _train(seed: int):
    """seed_cnn_tiny with 8 outputs, trained 400 steps, then its BatchNorm statistics recomputed.

    The moving statistics lag behind the weights; recomputed on the training faces, the model is right on every
    generated face, its top class well ahead: confident enough for the int8 gate. The 8 classes differ by
    brightness alone, and a shorter training (240 faces, 90 steps) left one class without an interval of its own
    under some seeds (--test-seed 7: class 1, 12345: class 3, every face of it wrong; 1: right by 0.04 only).
    640 faces and 400 steps were right on every measured face for seeds 1, 5, 7 and 12345 (margins 0.10-0.46)
    and missed one face at seed 3. The tests on this model check its export, not its training, so a training
    that missed (wrong on a training face, or right by less than ``MIN_MARGIN``) is redone from the next derived
    seed: deterministic for each --test-seed. The faces the tests measure (``eight_class_faces(160, seed=2)``)
    play no part in the choice.
    """
    images, labels = eight_class_faces(640, seed=1)
    misses = []
    for attempt in range(ATTEMPTS):
        model = _train_once(seed + 1000 * attempt, images, labels)
        probs = np.asarray(model.predict_on_batch(images))
        right = float((probs.argmax(axis=1) == labels).mean())
        top2 = np.sort(probs, axis=1)[:, -2:]
        margin = float((top2[:, 1] - top2[:, 0]).min())
        if right == 1.0 and margin >= MIN_MARGIN:
            return model, images
        misses.append(f"seed {seed + 1000 * attempt}: {right:.1%} right, margin {margin:.3f}")
    raise RuntimeError(f"no confident 8-class model in {ATTEMPTS} trainings: " + "; ".join(misses))


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
