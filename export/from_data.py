"""``fer-export`` on FER2013 data: the faces of the parity gate and of int8 calibration, labelled as the model
was trained, and the export of a run's model on them (``export_from_data``, what ``fer-export`` and the pipeline's
export stage run).

A run's ``config.json`` names its label mode (``labels``: ``fer2013``, ``ferplus-majority``, ``ferplus-soft``) and
FER+ file; its ``labels.txt`` names the model's classes. The gate's faces are loaded with that label mode, so its
accuracy is measured against the labels the model learnt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.export_labels import label_mode_of
from export.exporter import ExportResult, export_all
from export.parity import DEFAULT_PARITY_EXAMPLES, DEFAULT_REPRESENTATIVE_EXAMPLES
from model_zoo.constants import DEFAULT_LABEL_MODE
from model_zoo.loading import load_model


@dataclass
class ExportData:
    """Real faces an export needs: validation faces for the gate, training faces for calibration."""

    parity_images: np.ndarray
    parity_labels: np.ndarray  # indices into the classes of ``labels``
    parity_split: str
    representative_images: np.ndarray  # int8 calibration
    recalibration_images: np.ndarray | None  # BatchNorm statistics; None: keep the trained ones
    labels: str = DEFAULT_LABEL_MODE  # the label mode of parity_labels
    ferplus: Path | None = None  # the FER+ vote file of a FER+ label mode


def load_export_data(
    data: str | Path,
    data_dir: str | Path | None,
    n_parity: int,
    n_representative: int,
    n_recalibration: int | None = 0,
    seed: int = 0,
    skip_bad_rows: bool = False,
    labels: str = DEFAULT_LABEL_MODE,
    ferplus: str | Path | None = None,
) -> ExportData:
    """Load the faces of an export from FER2013 data, labelled as the model was trained.

    Args:
        data, data_dir: The FER2013 source and prepared-dataset cache (see ``load_fer2013``).
        n_parity: Validation faces for the gate (test, then train, if there is no validation split).
        n_representative: Training faces drawn at random with ``seed`` for int8 calibration.
        n_recalibration: Training faces, drawn at random with ``seed``, to recompute BatchNorm
            statistics on; None: all of them; 0: no recalibration.
        seed: Seed of the random draws.
        skip_bad_rows: Skip malformed rows (see ``load_fer2013``).
        labels: The label mode of the gate's labels (``load_fer2013``'s; FER+ modes leave some faces out).
        ferplus: The FER+ vote file of a FER+ mode (None: found beside the FER2013 CSV).

    Returns:
        The faces, their labels' mode and the FER+ file read.

    Raises:
        ValueError: on a negative ``n_recalibration``, or recalibration asked of data without a training split.
        MissingDataError, MissingFerPlusError, FerPlusError: from the dataset.
    """
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays

    fer = load_fer2013(data, data_dir, skip_bad_rows, labels, ferplus)
    parity_split = next(s for s in ("validation", "test", "train") if s in fer.splits)
    images, parity_labels = dataset_to_arrays(fer.split(parity_split).take(n_parity))
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
    representative = train_images[np.sort(pick)]
    return ExportData(images, parity_labels, parity_split, representative, recalibration, fer.label_mode, fer.ferplus)


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
        }
        | ({"ferplus": str(faces.ferplus)} if faces.ferplus else {}),
        "training_config": training_config,
    }


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
    crop_average: bool = False,
    extra_metadata: dict | None = None,
    labels: str | None = None,
    ferplus: str | Path | None = None,
) -> ExportResult:
    """``export_all`` on faces loaded from FER2013 data, with the export metadata: what ``fer-export`` and the
    pipeline's export stage run.

    The model's classes are its run's (the ``labels.txt`` beside ``model_path``), else named by its output
    width; the gate's faces carry the labels it was trained on.

    Args:
        model_path: A ``.keras`` file (a run directory's ``best.keras``, say).
        out_dir, overwrite, flip_average, crop_average: As for ``export_all``.
        data, data_dir, n_parity, n_representative, n_recalibration, seed, skip_bad_rows: As for
            ``load_export_data``.
        training_config: The training run's resolved configuration, recorded in the metadata (None: unknown).
        extra_metadata: Merged into the metadata after ``export_metadata``'s fields.
        labels: The label mode of the gate's faces; None: ``training_config``'s, else the only mode with the
            model's classes (``export_labels.label_mode_of``).
        ferplus: The FER+ vote file of a FER+ mode; None: ``training_config``'s when its mode is used, else the
            one beside the FER2013 CSV.

    Returns:
        ``export_all``'s result.

    Raises:
        FileNotFoundError, FileExistsError: as ``load_export_data`` and ``export_all``.
        ValueError: as they do, and if the label mode cannot be told or has other classes than the model.
    """
    from pipeline.evaluate import model_class_names

    model = load_model(model_path)
    class_names = model_class_names(model_path, int(model.output_shape[-1]))
    mode = label_mode_of(class_names, labels, training_config)
    if ferplus is None and mode != DEFAULT_LABEL_MODE and mode == (training_config or {}).get("labels"):
        ferplus = training_config.get("ferplus")
    faces = load_export_data(
        data, data_dir, n_parity, n_representative, n_recalibration, seed, skip_bad_rows, mode, ferplus
    )
    return export_all(
        model,
        out_dir,
        faces.parity_images,
        faces.parity_labels,
        faces.representative_images,
        extra_metadata=export_metadata(model_path, data, faces, training_config) | (extra_metadata or {}),
        overwrite=overwrite,
        flip_average=flip_average,
        crop_average=crop_average,
        recalibration_images=faces.recalibration_images,
        class_names=class_names,
        labels=faces.labels,
    )
