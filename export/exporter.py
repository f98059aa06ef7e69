"""``fer-export``: SavedModel, ``.keras`` and four TFLite variants from one trained model, behind a parity gate.

    fer-export runs/ship --out artifacts/ship
    fer-export model.keras --out artifacts/x --data ../shared/data/fer2013
    fer-export runs/ship2 --out artifacts/ship2 --recalibrate-batchnorm all   # BatchNorm stats on clean faces

The output directory holds ``model.keras``, ``saved_model/``, ``model_float32.tflite``,
``model_float16.tflite``, ``model_dynamic.tflite``, ``model_int8.tflite``, ``labels.txt``,
``metadata.json``, ``parity_report.json`` and ``manifest.json`` (size and sha256 of every
file). The export is written beside the target and moved into place at the end, so an
interrupted export never leaves a half-written directory. If any artifact fails the parity
gate, the command exits 1; the report is saved either way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import keras
import numpy as np

from export.layout import FACES_SIGNATURE, QUANTIZED_VARIANTS, SERVING_SIGNATURE, VARIANTS, tflite_filename
from export.parity import ParityThresholds, format_parity_report, parity_report
from export.predictors import KerasPredictor, SavedModelPredictor, TFLitePredictor, predict_in_batches
from export.saved_model import export_saved_model
from export.tflite_convert import convert_to_tflite
from model_zoo import CLASS_NAMES, load_model
from model_zoo.batchnorm_recalibration import recalibrate_batchnorm
from model_zoo.flip_averaging import with_flip_averaging

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
) -> ExportData:
    """Load the faces of an export from FER2013 data.

    Args:
        data, data_dir: The FER2013 source and prepared-dataset cache (see ``load_fer2013``).
        n_parity: Validation faces for the gate (test, then train, if there is no validation split).
        n_representative: Training faces drawn at random with ``seed`` for int8 calibration.
        n_recalibration: Training faces, drawn at random with ``seed``, to recompute BatchNorm
            statistics on; None: all of them; 0: no recalibration.
        seed: Seed of the random draws.
    """
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays

    fer = load_fer2013(data, data_dir)
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
        model.save(staging / "model.keras")
        export_saved_model(model, staging / "saved_model")
        (staging / "labels.txt").write_text("\n".join(CLASS_NAMES) + "\n")

        reference = predict_in_batches(KerasPredictor(model), parity_images)
        probs = {"saved_model": predict_in_batches(SavedModelPredictor(staging / "saved_model"), parity_images)}
        kinds = {f"tflite_{v}": "int8" for v in QUANTIZED_VARIANTS} | {"tflite_float16": "float16"}
        report = parity_report(reference, probs, parity_labels, kinds, thresholds)
        if report["passed"]:
            for variant in VARIANTS:
                log.info("Converting to TFLite %s", variant)
                flatbuffer = convert_to_tflite(staging / "saved_model", variant, representative_images)
                (staging / tflite_filename(variant)).write_bytes(flatbuffer)
                predictor = TFLitePredictor(staging / tflite_filename(variant))
                probs[f"tflite_{variant}"] = predict_in_batches(predictor, parity_images)
            report = parity_report(reference, probs, parity_labels, kinds, thresholds)
        else:
            # TFLite is converted from the SavedModel and would inherit its error;
            # running such a model can even abort the LiteRT interpreter.
            log.error("The SavedModel failed the parity gate; no TFLite model is converted from it")
        report["representative_examples"] = int(len(representative_images))
        (staging / "parity_report.json").write_text(json.dumps(report, indent=2))
        metadata = _metadata(
            staging / "model.keras",
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
    packages = {}
    for name in ("tensorflow", "tensorflow-cpu", "keras", "numpy", "ai-edge-litert", "tensorflow-datasets"):
        try:
            packages[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return {
        "class_names": list(CLASS_NAMES),
        "source_model": {"name": model.name, "sha256_of_model.keras": _sha256(keras_path)},
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": {
            "model.keras": "uint8 (N, H, W, 1 or 3), any H and W; preprocessing is in the graph",
            f"saved_model ({SERVING_SIGNATURE})": "images: uint8 (N, H, W, C), C = 1 or 3, any H and W",
            f"saved_model ({FACES_SIGNATURE})": "faces: uint8 (N, 48, 48, 1)",
            "model_*.tflite": "uint8 (N, 48, 48, 1) gray faces; resize_tensor_input changes N",
        },
        "outputs": "probabilities of the 7 classes in labels.txt order; float32, or uint8 with scale 1/256 "
        "for model_int8.tflite",
        "parity_passed": report["passed"],
        "python": platform.python_version(),
        "packages": packages,
        **extra,
    }


def _accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of ``model`` on ``images``, rounded to 4 decimals for the metadata."""
    return round(float((predict_in_batches(KerasPredictor(model), images).argmax(axis=1) == labels).mean()), 4)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(directory: Path) -> None:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    manifest = {str(p.relative_to(directory)): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _count_or_all(text: str) -> int | None:
    """``--recalibrate-batchnorm``'s value: a number of faces >= 0, or None for "all"."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of faces >= 0 or 'all', got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-export``; returns 0, 1 (parity gate failed) or 2 (bad input)."""
    parser = argparse.ArgumentParser(
        prog="fer-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="a .keras file or a run directory of fer-train")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--data",
        help="FER2013 data for the parity gate and int8 calibration (default: the run directory's training data)",
    )
    parser.add_argument("--data-dir", help="prepared-dataset cache")
    parser.add_argument("--parity-examples", type=int, default=1000, help="validation faces the gate runs on")
    parser.add_argument(
        "--representative-examples", type=int, default=500, help="training faces that calibrate the int8 model"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="average each face's probabilities with its mirror image's (test-time augmentation, 2x the compute)",
    )
    parser.add_argument(
        "--recalibrate-batchnorm",
        type=_count_or_all,
        default=0,
        metavar="N|all",
        help="recompute the BatchNorm statistics on N unaugmented training faces (or all) before exporting: "
        "they were measured on augmented faces; 0 keeps them",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        model_path, run_config = resolve_model_path(args.model)
        data = args.data or (run_config or {}).get("data")
        if not data:
            raise ValueError("No data for the parity gate: pass --data PATH (FER2013 CSV or image folders)")
        data_dir = args.data_dir or (run_config or {}).get("data_dir")
        faces = load_export_data(
            data, data_dir, args.parity_examples, args.representative_examples, args.recalibrate_batchnorm
        )
        result = export_all(
            model_path,
            args.out,
            faces.parity_images,
            faces.parity_labels,
            faces.representative_images,
            overwrite=args.overwrite,
            flip_average=args.flip_average,
            recalibration_images=faces.recalibration_images,
            extra_metadata={
                "source_model_path": str(model_path),  # as given: no host-specific absolute path
                "dataset": {
                    "source": str(data),
                    "parity_split": faces.parity_split,
                    "parity_examples": len(faces.parity_labels),
                    "representative_examples": len(faces.representative_images),
                },
                "training_config": run_config,
            },
        )
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"fer-export: error: {e}", file=sys.stderr)
        return 2
    print(format_parity_report(result.report))
    print(f"Artifacts in {result.out_dir} (parity report: {result.out_dir / 'parity_report.json'})")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
