"""Knowledge distillation from a teacher ensemble: the targets a student trains on.

The teachers (shipped models, ``fer-export`` or run directories, ``.keras`` files) are run once over
the unaugmented training faces, each on the face and on its mirror image; the ensemble's
distribution is the mean of those probabilities. A student's target is then
``weight * teacher + (1 - weight) * label`` (the label one-hot, or the FER+ vote distribution).

Precomputing the teacher on unaugmented faces (offline distillation) costs one inference pass
instead of one per training step: the augmentation is mild (a flip, a few degrees, a tenth of
zoom and shift) and the teacher's distribution over a face barely moves under it.

A teacher's classes are matched to the student's by name, so an 8-class FER+ teacher can teach a
7-class FER2013 student (its Contempt column left out, the rest renormalised); a student class the
teacher lacks is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_runtime.predictors import KerasPredictor, predict_in_batches
from model_zoo.pretrained import resolve_artifacts
from pipeline.evaluate import model_class_names
from pipeline.run_metadata import chosen_model

log = logging.getLogger(__name__)


@dataclass
class Teacher:
    """One model of the teacher ensemble: where it came from, its Keras predictor and its class names."""

    source: str
    predictor: KerasPredictor
    class_names: tuple[str, ...]


def teacher_model_path(spec: str) -> Path:
    """The ``.keras`` file a teacher ``spec`` names: a ``.keras`` file, a ``fer-export`` directory, a ``fer-train``
    run directory (its ``best.keras``) or a shipped model's name.

    Raises:
        FileNotFoundError: if ``spec`` is none of these (the message lists the shipped names).
    """
    path = resolve_artifacts(spec)
    if path.is_file():
        return path
    chosen = chosen_model(path)  # a run's choice; an export's model.keras
    if chosen is not None:
        return chosen
    raise FileNotFoundError(
        f"Teacher {spec!r}: {path} holds no model (model.keras of an export, best.keras of a run); pass an export "
        "or run directory, a .keras file or a shipped model's name"
    )


def load_teachers(specs: str) -> list[Teacher]:
    """The teachers of a comma-separated list of specs (see ``teacher_model_path``).

    Raises:
        FileNotFoundError: if a spec names no model.
        ValueError: if the list is empty, or a model's ``labels.txt`` disagrees with its output.
    """
    names = [s.strip() for s in specs.split(",") if s.strip()]
    if not names:
        raise ValueError(f"--teacher names no model: {specs!r}; pass one or more, comma-separated")
    teachers = []
    for spec in names:
        path = teacher_model_path(spec)
        predictor = KerasPredictor(path)
        teachers.append(Teacher(spec, predictor, model_class_names(path, predictor.num_classes)))
    return teachers


def teacher_probabilities(
    teachers: list[Teacher], images: np.ndarray, class_names: tuple[str, ...], batch_size: int = 512
) -> np.ndarray:
    """The ensemble's distribution over ``class_names`` for each face: the mean over teachers and both mirror
    images of their probabilities, each teacher's restricted to ``class_names`` and renormalised.

    Args:
        teachers: The ensemble (``load_teachers``).
        images: uint8 (N, H, W, C) faces.
        class_names: The student's classes, in its output order.
        batch_size: Faces per inference call.

    Returns:
        float32 (N, len(class_names)) distributions.

    Raises:
        ValueError: if a teacher lacks one of ``class_names``.
    """
    total = np.zeros((len(images), len(class_names)), np.float64)
    mirrored = images[:, :, ::-1]
    for teacher in teachers:
        missing = [n for n in class_names if n not in teacher.class_names]
        if missing:
            raise ValueError(
                f"Teacher {teacher.source} has classes {list(teacher.class_names)}, without the student's {missing}: "
                "pick a teacher trained on these classes (--labels of the student decides them)"
            )
        columns = [teacher.class_names.index(n) for n in class_names]
        for view in (images, mirrored):
            probs = predict_in_batches(teacher.predictor, view, batch_size)[:, columns].astype(np.float64)
            total += probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
        log.info("teacher %s: %d faces", teacher.source, len(images))
    return (total / (2 * len(teachers))).astype(np.float32)


def distilled_targets(targets: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """``weight * teacher + (1 - weight) * targets``, class-index targets taken as one-hot.

    Args:
        targets: (N,) class indices or (N, K) distributions.
        teacher: (N, K) the teacher's distributions.
        weight: The teacher's share, in (0, 1].

    Raises:
        ValueError: if the shapes disagree.
    """
    targets = np.asarray(targets)
    if targets.ndim == 1:
        targets = np.eye(teacher.shape[1], dtype=np.float32)[targets.astype(np.int64)]
    if targets.shape != teacher.shape:
        raise ValueError(f"targets {targets.shape} and teacher distributions {teacher.shape} must match")
    return (weight * teacher + (1.0 - weight) * targets).astype(np.float32)
