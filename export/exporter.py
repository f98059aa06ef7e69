"""SavedModel, ``.keras`` and four TFLite variants from one trained model, behind a parity gate.

The output directory holds every file of the artifact table (``model_zoo.artifacts``:
``model.keras``, ``saved_model/``, ``model_float32.tflite``, ``model_float16.tflite``,
``model_dynamic.tflite``, ``model_int8.tflite``), ``labels.txt``, ``metadata.json``,
``parity_report.json`` (by backend name) and ``manifest.json`` (size and sha256 of every
file). The export is written beside the target and moved into place at the end, so an
interrupted export never leaves a half-written directory. The command is ``fer-export``
(``export.cli.export``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np

from export.parity import DEFAULT_PARITY_EXAMPLES, DEFAULT_REPRESENTATIVE_EXAMPLES, ParityThresholds, parity_report
from export.saved_model import export_saved_model
from export.tflite_convert import convert_to_tflite
from fer_runtime.predictors import KerasPredictor, SavedModelPredictor, TFLitePredictor, predict_in_batches
from model_zoo.artifacts import ARTIFACTS, FACES_SIGNATURE, SERVING_SIGNATURE, TFLITE_ARTIFACTS, artifact
from model_zoo.batchnorm_recalibration import recalibrate_batchnorm
from model_zoo.constants import CLASS_NAMES, FACE_SHAPE, NUM_CLASSES, write_labels
from model_zoo.flip_averaging import with_flip_averaging
from model_zoo.loading import load_model
from pipeline.lineage import file_sha256
from pipeline.run_metadata import environment

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
        for name in ("best.keras", "model.keras"):
            if (path / name).is_file():
                return path / name, config
        raise FileNotFoundError(f"{path} holds neither best.keras nor model.keras; is it a finished run directory?")
    if not path.is_file():
        raise FileNotFoundError(f"No model at {path}")
    return path, None


@dataclass
class ExportData:
    """Real faces an export needs: validation faces for the gate, training faces for calibration."""

    parity_images: np.ndarray
    parity_labels: np.ndarray
    parity_split: str
    representative_images: np.ndarray  # int8 calibration
    recalibration_images: np.ndarray | None  # BatchNorm statistics; None: keep the trained ones


def load_export_data(
    data: str | Path,
    data_dir: str | Path | None,
    n_parity: int,
    n_representative: int,
    n_recalibration: int | None = 0,
    seed: int = 0,
    skip_bad_rows: bool = False,
) -> ExportData:
    """Load the faces of an export from FER2013 data.

    Args:
        data, data_dir: The FER2013 source and prepared-dataset cache (see ``load_fer2013``).
        n_parity: Validation faces for the gate (test, then train, if there is no validation split).
        n_representative: Training faces drawn at random with ``seed`` for int8 calibration.
        n_recalibration: Training faces, drawn at random with ``seed``, to recompute BatchNorm
            statistics on; None: all of them; 0: no recalibration.
        seed: Seed of the random draws.
        skip_bad_rows: Skip malformed rows (see ``load_fer2013``).
    """
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays

    fer = load_fer2013(data, data_dir, skip_bad_rows)
    parity_split = next(s for s in ("validation", "test", "train") if s in fer.splits)
    images, labels = dataset_to_arrays(fer.split(parity_split).take(n_parity))
    train_images, _ = dataset_to_arrays(fer.split("train" if "train" in fer.splits else parity_split))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(train_images), min(n_representative, len(train_images)), replace=False)
    recalibration = None
    if n_recalibration is not None and n_recalibration < 0:
        raise ValueError(f"n_recalibration must be >= 0 or None (all training faces), got {n_recalibration}")
    if n_recalibration is None or n_recalibration > 0:
        if "train" not in fer.splits:
            # The statistics would then come from the faces the gate measures.
            raise ValueError(f"BatchNorm recalibration needs training faces; the data at {fer.source} have none")
        recalibration = train_images[rng.permutation(len(train_images))[:n_recalibration]]
    return ExportData(images, labels, parity_split, train_images[np.sort(pick)], recalibration)


def export_metadata(model_path: str | Path, data: str | Path, faces: ExportData, training_config: dict | None) -> dict:
    """What an export records about where it came from (``metadata.json``'s ``extra_metadata``).

    Args:
        model_path: The model exported, as given (no host-specific absolute path added).
        data: The FER2013 source of ``faces``.
        faces: The faces the export used.
        training_config: The run's ``config.json``, when the model came from a run directory.
    """
    return {
        "source_model_path": str(model_path),
        "dataset": {
            "source": str(data),
            "parity_split": faces.parity_split,
            "parity_examples": len(faces.parity_labels),
            "representative_examples": len(faces.representative_images),
        },
        "training_config": training_config,
    }


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
    recalibration_images: np.ndarray | None = None,
) -> ExportResult:
    """Export every artifact of the model at ``model_path`` into ``out_dir`` and run the parity gate.

    Args:
        model: A zoo model, or the path of one saved as ``.keras``.
        out_dir: Where the artifacts go; must not exist unless ``overwrite``.
        parity_images, parity_labels: Real faces (uint8 (N, 48, 48, 1)) and labels for the gate.
        representative_images: Real training faces for int8 calibration.
        extra_metadata: Merged into ``metadata.json`` (e.g. the dataset used).
        thresholds: The gate (default ``ParityThresholds()``).
        overwrite: Replace an existing ``out_dir`` (the old one is removed only once the new one is complete).
        flip_average: Export ``with_flip_averaging(model)``: every artifact averages the model's
            outputs on the face and its mirror image (two passes per face).
        recalibration_images: Unaugmented training faces: recompute the model's BatchNorm
            statistics on them before exporting (``recalibrate_batchnorm``; a model passed
            as an object is changed in place). None keeps the trained statistics.

    Returns:
        An ``ExportResult``; ``passed`` is False if any artifact failed the gate.

    Raises:
        FileExistsError: if ``out_dir`` exists and ``overwrite`` is False.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"{out_dir} exists; pass --overwrite to replace it, or choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        if not isinstance(model, keras.Model):
            model = load_model(model)
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
        if flip_average:
            model = with_flip_averaging(model)
        # Saved again uncompiled: the checkpoint's optimizer state would triple the file for nothing.
        model.save(staging / artifact("keras").file)
        saved_model_dir = staging / artifact("saved_model").file
        export_saved_model(model, saved_model_dir)
        write_labels(staging)

        reference = predict_in_batches(KerasPredictor(model), parity_images)
        probs = {"saved_model": predict_in_batches(SavedModelPredictor(saved_model_dir), parity_images)}
        kinds = {a.backend: a.parity for a in ARTIFACTS}
        report = parity_report(reference, probs, parity_labels, kinds, thresholds)
        if report["passed"]:
            for entry in TFLITE_ARTIFACTS:
                log.info("Converting to %s", entry.description)
                flatbuffer = convert_to_tflite(saved_model_dir, entry.tflite_variant, representative_images)
                (staging / entry.file).write_bytes(flatbuffer)
                predictor = TFLitePredictor(staging / entry.file, name=entry.backend)
                probs[entry.backend] = predict_in_batches(predictor, parity_images)
            report = parity_report(reference, probs, parity_labels, kinds, thresholds)
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
            {"flip_averaged": flip_average, "batchnorm_recalibration": recalibration} | (extra_metadata or {}),
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


def _metadata(keras_path: Path, model: keras.Model, report: dict, extra: dict) -> dict:
    env = environment()
    height, width, channels = FACE_SHAPE
    face_input = f"uint8 (N, {height}, {width}, {channels}) gray faces"
    return {
        "class_names": list(CLASS_NAMES),
        "source_model": {"name": model.name, "sha256_of_model.keras": file_sha256(keras_path)},
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "backends": {a.backend: a.file for a in ARTIFACTS},
        "inputs": {
            "model.keras": "uint8 (N, H, W, 1 or 3), any H and W; preprocessing is in the graph",
            f"saved_model ({SERVING_SIGNATURE})": "images: uint8 (N, H, W, C), C = 1 or 3, any H and W",
            f"saved_model ({FACES_SIGNATURE})": f"faces: {face_input}",
            "model_*.tflite": f"{face_input}; resize_tensor_input changes N",
        },
        "outputs": f"probabilities of the {NUM_CLASSES} classes in labels.txt order; float32, or uint8 with "
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
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


def export_from_data(
    model_path: str | Path,
    out_dir: str | Path,
    data: str | Path,
    data_dir: str | Path | None = None,
    n_parity: int = DEFAULT_PARITY_EXAMPLES,
    n_representative: int = DEFAULT_REPRESENTATIVE_EXAMPLES,
    n_recalibration: int | None = 0,
    training_config: dict | None = None,
    seed: int = 0,
    skip_bad_rows: bool = False,
    overwrite: bool = False,
    flip_average: bool = False,
    extra_metadata: dict | None = None,
) -> ExportResult:
    """``export_all`` on faces loaded from FER2013 data, with the export metadata: what ``fer-export`` and the
    pipeline's export stage run.

    Args:
        model_path: A ``.keras`` file.
        out_dir, overwrite, flip_average: As for ``export_all``.
        data, data_dir, n_parity, n_representative, n_recalibration, seed, skip_bad_rows: As for
            ``load_export_data``.
        training_config: The training run's resolved configuration, recorded in the metadata (None: unknown).
        extra_metadata: Merged into the metadata after ``export_metadata``'s fields.

    Returns:
        ``export_all``'s result.

    Raises:
        FileNotFoundError, FileExistsError, ValueError: as ``load_export_data`` and ``export_all``.
    """
    faces = load_export_data(data, data_dir, n_parity, n_representative, n_recalibration, seed, skip_bad_rows)
    return export_all(
        model_path,
        out_dir,
        faces.parity_images,
        faces.parity_labels,
        faces.representative_images,
        extra_metadata=export_metadata(model_path, data, faces, training_config) | (extra_metadata or {}),
        overwrite=overwrite,
        flip_average=flip_average,
        recalibration_images=faces.recalibration_images,
    )
