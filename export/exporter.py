"""SavedModel, ``.keras`` and four TFLite variants from one trained model, behind a parity gate.

The output directory holds every file of the artifact table (``model_zoo.artifacts``:
``model.keras``, ``saved_model/``, ``model_float32.tflite``, ``model_float16.tflite``,
``model_dynamic.tflite``, ``model_int8.tflite``), ``labels.txt``, ``metadata.json``,
``parity_report.json`` (by backend name) and ``manifest.json`` (size and sha256 of every
file). The export is written beside the target and moved into place at the end, so an
interrupted export never leaves a half-written directory. The command is ``fer-export``
(``export.cli.export``); ``export.from_data`` loads the gate's faces from FER2013 data.

The classes travel with the model: ``labels.txt`` and ``metadata.json``'s ``class_names`` are those given
(a run's ``labels.txt``), else named by the model's output width (7 FER2013's, 8 FER+'s), and
``metadata.json``'s ``labels`` is the label mode of the faces the gate measured: the labels the model was
trained on (``export.export_labels``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np

from export.export_labels import label_mode_of
from export.parity import ParityThresholds, parity_report
from export.saved_model import export_saved_model
from export.tflite_convert import convert_to_tflite
from fer_runtime.command_line import one_line
from fer_runtime.predictors import KerasPredictor, SavedModelPredictor, TFLitePredictor, predict_in_batches
from model_zoo.artifacts import (
    ARTIFACTS,
    FACES_SIGNATURE,
    MANIFEST_FILE,
    SERVING_SIGNATURE,
    TFLITE_ARTIFACTS,
    artifact,
)
from model_zoo.batchnorm_recalibration import recalibrate_batchnorm
from model_zoo.constants import FACE_SHAPE, class_names_for_width, write_labels
from model_zoo.loading import load_model
from model_zoo.test_time_augmentation import with_test_time_augmentation
from pipeline.lineage import file_sha256
from pipeline.run_metadata import chosen_model, environment

log = logging.getLogger("fer-export")

RECALIBRATION_BATCH_SIZE = 256


@dataclass
class ExportResult:
    out_dir: Path
    report: dict

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])


def resolve_model_path(model_or_run_dir: str | Path) -> tuple[Path, dict | None]:
    """The ``.keras`` file to export and, for a run directory, its ``config.json``.

    A run directory gives its ``best.keras`` (or ``model.keras`` if it has no best checkpoint).

    Raises:
        FileNotFoundError: if there is no model there.
    """
    path = Path(model_or_run_dir)
    if path.is_dir():
        config = json.loads((path / "config.json").read_text()) if (path / "config.json").exists() else None
        chosen = chosen_model(path)
        if chosen is not None:
            return chosen, config
        raise FileNotFoundError(f"{path} holds neither best.keras nor model.keras; is it a finished run directory?")
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}")
    return path, None


def export_all(
    model: str | Path | keras.Model,
    out_dir: str | Path,
    parity_images: np.ndarray,
    parity_labels: np.ndarray,
    representative_images: np.ndarray,
    extra_metadata: dict | None = None,
    thresholds: ParityThresholds | None = None,
    overwrite: bool = False,
    flip_average: bool = False,
    crop_average: bool = False,
    recalibration_images: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    labels: str | None = None,
) -> ExportResult:
    """Export every artifact of the model at ``model_path`` into ``out_dir`` and run the parity gate.

    Args:
        model: A zoo model, or the path of one saved as ``.keras``.
        out_dir: Where the artifacts go; must not exist unless ``overwrite``.
        parity_images, parity_labels: Real faces (uint8 (N, 48, 48, 1)) and labels for the gate: indices
            into ``class_names``.
        representative_images: Real training faces for int8 calibration.
        extra_metadata: Merged into ``metadata.json`` (e.g. the dataset used).
        thresholds: The gate (default ``ParityThresholds()``).
        overwrite: Replace an existing ``out_dir`` (the old one is removed only once the new one is complete).
        flip_average: Export ``with_test_time_augmentation(model, flip=True)``: every artifact averages the
            model's outputs on the face and its mirror image (two passes per face).
        crop_average: Average over five crops of the face, the centre and the corners (five passes per face;
            ten with ``flip_average``).
        recalibration_images: Unaugmented training faces: recompute the model's BatchNorm
            statistics on them before exporting (``recalibrate_batchnorm``; a model passed
            as an object is changed in place). None keeps the trained statistics.
        class_names: The model's classes in output order, written to ``labels.txt`` and the metadata (None:
            named by the model's output width, ``class_names_for_width``).
        labels: The label mode of ``parity_labels``, recorded as the metadata's ``labels`` (None: the only
            mode with ``class_names``, else unrecorded).

    Returns:
        An ``ExportResult``; ``passed`` is False if any artifact failed the gate.

    Raises:
        FileExistsError: if ``out_dir`` exists and ``overwrite`` is False.
        ValueError: if ``class_names`` are not as many as the model's outputs, or ``labels`` has other classes.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} exists; pass --overwrite to replace it, or choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        if not isinstance(model, keras.Model):
            model = load_model(model)
        class_names, labels = _classes(model, class_names, labels)
        recalibration = None
        if recalibration_images is not None:
            before = _accuracy(model, parity_images, parity_labels)
            recalibrate_batchnorm(model, recalibration_images, RECALIBRATION_BATCH_SIZE)
            after = _accuracy(model, parity_images, parity_labels)
            log.info(
                "BatchNorm recalibrated on %d training faces: parity-set accuracy %.4f -> %.4f",
                len(recalibration_images),
                before,
                after,
            )
            recalibration = {
                "training_faces": len(recalibration_images),
                "batch_size": RECALIBRATION_BATCH_SIZE,
                "parity_accuracy_before": before,
                "parity_accuracy_after": after,
            }
        if flip_average or crop_average:
            model = with_test_time_augmentation(model, flip=flip_average, crops=crop_average)
        # Saved again uncompiled: the checkpoint's optimizer state would triple the file for nothing.
        model.save(staging / artifact("keras").file)
        saved_model_dir = staging / artifact("saved_model").file
        export_saved_model(model, saved_model_dir)
        write_labels(staging, class_names)

        reference = predict_in_batches(KerasPredictor(model), parity_images)
        probs = {"saved_model": predict_in_batches(SavedModelPredictor(saved_model_dir), parity_images)}
        kinds = {a.backend: a.parity for a in ARTIFACTS}
        report = parity_report(reference, probs, parity_labels, kinds, thresholds)
        if report["passed"]:
            refused = {}
            for entry in TFLITE_ARTIFACTS:
                log.info("Converting to %s", entry.description)
                flatbuffer = convert_to_tflite(saved_model_dir, entry.tflite_variant, representative_images)
                (staging / entry.file).write_bytes(flatbuffer)
                try:
                    predictor = TFLitePredictor(staging / entry.file, name=entry.backend)
                    probs[entry.backend] = predict_in_batches(predictor, parity_images)
                except RuntimeError as error:  # LiteRT refuses it (XNNPACK cannot prepare an int8 scale, say)
                    refused[entry.backend] = one_line(str(error))
            report = parity_report(reference, probs, parity_labels, kinds, thresholds, errors=refused)
        else:
            # TFLite is converted from the SavedModel and would inherit its error;
            # running such a model can even abort the LiteRT interpreter.
            log.error("The SavedModel failed the parity gate; no TFLite model is converted from it")
        report["representative_examples"] = int(len(representative_images))
        (staging / "parity_report.json").write_text(json.dumps(report, indent=2))
        metadata = _metadata(
            staging / artifact("keras").file,
            model,
            report,
            {"flip_averaged": flip_average, "crop_averaged": crop_average, "batchnorm_recalibration": recalibration}
            | (extra_metadata or {}),
            class_names,
            labels,
        )
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2))
        _write_manifest(staging)
        staging.chmod(0o755)  # mkdtemp makes it private; the artifacts are for everyone
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out_dir=out_dir, report=report)


def _classes(
    model: keras.Model, class_names: Sequence[str] | None, labels: str | None
) -> tuple[tuple[str, ...], str | None]:
    """The model's classes (given, or by its output width) and the label mode of its gate (checked; None: unknown).

    Raises:
        ValueError: if ``class_names`` are not as many as the model's outputs, or ``labels`` has other classes.
    """
    width = int(model.output_shape[-1])
    names = tuple(class_names) if class_names is not None else class_names_for_width(width)
    if len(names) != width:
        raise ValueError(f"The model outputs {width} probabilities but {len(names)} class names were given: {names}")
    if labels is not None:
        return names, label_mode_of(names, labels)
    try:
        return names, label_mode_of(names)
    except ValueError:  # more than one mode has these classes, and none was named
        return names, None


def _metadata(
    keras_path: Path, model: keras.Model, report: dict, extra: dict, class_names: tuple[str, ...], labels: str | None
) -> dict:
    env = environment()
    height, width, channels = FACE_SHAPE
    face_input = f"uint8 (N, {height}, {width}, {channels}) gray faces"
    return {
        "class_names": list(class_names),
        "labels": labels,
        "source_model": {"name": model.name, "sha256_of_model.keras": file_sha256(keras_path)},
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "backends": {a.backend: a.file for a in ARTIFACTS},
        "inputs": {
            "model.keras": "uint8 (N, H, W, 1 or 3), any H and W; preprocessing is in the graph",
            f"saved_model ({SERVING_SIGNATURE})": "images: uint8 (N, H, W, C), C = 1 or 3, any H and W",
            f"saved_model ({FACES_SIGNATURE})": f"faces: {face_input}",
            "model_*.tflite": f"{face_input}; resize_tensor_input changes N",
        },
        "outputs": f"probabilities of the {len(class_names)} classes in labels.txt order; float32, or uint8 with "
        f"scale 1/256 for {artifact('tflite-int8').file}",
        "parity_passed": report["passed"],
        "python": env["python"],
        "packages": env["packages"],
        **extra,
    }


def _accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of ``model`` on ``images``, rounded to 4 decimals for the metadata."""
    return round(float((predict_in_batches(KerasPredictor(model), images).argmax(axis=1) == labels).mean()), 4)


def _write_manifest(directory: Path) -> None:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    manifest = {str(p.relative_to(directory)): {"bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in files}
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
