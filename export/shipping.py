"""Shipping a pushed version: a ``fer-pipeline`` push becomes a shipped model, ``model_zoo/pretrained/<name>/``.

A pushed version (``export.push``) holds the SavedModel at its root, the other artifacts, the model card, the
lineage record and the data report. Shipping lays it out again as the ``fer-export`` directory every tool reads
(``saved_model/``, ``manifest.json``), keeps the card, lineage and data report beside it, and writes
``shipped.json``: a one-line summary, the label mode, the figures of ``fer-eval`` runs given as JSON and how it was
made (the pipeline run and its command, from the lineage). Every file is checked against the lineage's hashes
first, the folder is assembled under a hidden name and renamed into place, and an existing shipped model is never
replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from model_zoo.artifacts import MANIFEST_FILE, SAVED_MODEL_PB, artifact
from model_zoo.constants import DEFAULT_LABEL_MODE, FERPLUS_CLASS_NAMES
from model_zoo.pretrained import SHIPPED_FILE, SHIPPED_ROOT
from pipeline.lineage import LINEAGE_FILE, file_sha256


def figures_from_evaluations(evaluations: list[dict[str, Any]]) -> dict[str, float]:
    """The figures ``shipped.json`` keeps, from ``fer-eval --json`` results.

    Args:
        evaluations: ``fer-eval`` results (``pipeline.evaluate.evaluate``), each with its ``labels``.

    Returns:
        ``fer2013_accuracy`` (FER2013 labels), ``ferplus_majority_accuracy`` (FER+ majority, a model with every FER+
        class), ``ferplus_majority_accuracy_7_emotions`` (the faces of the 7 FER2013 emotions) and
        ``soft_label_cross_entropy`` (soft labels), each from the evaluation that measures it, rounded to 4 places.

    Raises:
        ValueError: if two evaluations measure the same figure, or one has no ``labels``.
    """
    figures: dict[str, float] = {}

    def keep(name: str, value: float) -> None:
        if name in figures:
            raise ValueError(f"two evaluations give {name}: pass one fer-eval result per label mode")
        figures[name] = round(float(value), 4)

    for result in evaluations:
        labels = result.get("labels")
        if labels is None:
            raise ValueError("a fer-eval result without 'labels': write it with fer-eval --json")
        if labels == DEFAULT_LABEL_MODE:
            keep("fer2013_accuracy", result["accuracy"])
        elif labels == "ferplus-majority":
            if set(FERPLUS_CLASS_NAMES) <= set(result["model_classes"]):
                keep("ferplus_majority_accuracy", result["accuracy"])
            keep("ferplus_majority_accuracy_7_emotions", result["ferplus_7_emotions"]["accuracy"])
        elif "soft_label_cross_entropy" in result:
            keep("soft_label_cross_entropy", result["soft_label_cross_entropy"])
    return figures


def evaluation_command(result: dict[str, Any], name: str) -> str:
    """The ``fer-eval`` command that measures ``result`` again on the shipped model ``name``."""
    command = f"fer-eval --model {name} --data {result['data']} --split {result['split']}"
    return command + ("" if result["labels"] == DEFAULT_LABEL_MODE else f" --labels {result['labels']}")


def ship_pushed_version(
    version_dir: str | Path,
    name: str,
    summary: str,
    evaluations: list[dict[str, Any]],
    root: str | Path | None = None,
) -> Path:
    """Add the pushed version ``version_dir`` to the shipped models as ``root/name``.

    Args:
        version_dir: A version a ``fer-pipeline`` run pushed (it holds ``lineage.json``).
        name: The shipped model's name (a folder name: letters, digits, ``_`` and ``-``).
        summary: Its one-line description.
        evaluations: ``fer-eval`` results of the model (see ``figures_from_evaluations``); ``shipped.json`` gives
            the command that repeats each.
        root: The shipped models' folder (default: ``model_zoo/pretrained``).

    Returns:
        The shipped model's folder.

    Raises:
        ValueError: on a bad name, or a file of the version that does not match its lineage record.
        FileNotFoundError: if ``version_dir`` is not a pushed version of a pipeline run.
        FileExistsError: if a shipped model of that name exists (it is never replaced).
    """
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"shipped model name {name!r}: use letters, digits, '_' and '-' only")
    version = Path(version_dir)
    lineage_path = version / LINEAGE_FILE
    if not (version / SAVED_MODEL_PB).is_file() or not lineage_path.is_file():
        raise FileNotFoundError(
            f"{version} is not a pushed version of a fer-pipeline run (no {SAVED_MODEL_PB} and {LINEAGE_FILE}); "
            "give PUSH_DIR/<version>"
        )
    lineage = json.loads(lineage_path.read_text())
    _check_against_lineage(version, lineage["artifacts"])
    root = Path(SHIPPED_ROOT if root is None else root)
    target = root / name
    if target.exists():
        raise FileExistsError(f"a shipped model called {name!r} exists at {target}: choose another name")
    info = {
        "summary": summary,
        "labels": lineage["config"].get("labels", DEFAULT_LABEL_MODE),
        "figures": figures_from_evaluations(evaluations),
        "figures_measured_with": [evaluation_command(result, name) for result in evaluations],
        "made_by": f"fer-pipeline run {lineage['run_id']}: {lineage['command']}",
    }
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".shipping-{name}-{uuid.uuid4().hex}"
    try:
        _lay_out_export(version, lineage["artifacts"], staging)
        (staging / SHIPPED_FILE).write_text(json.dumps(info, indent=2) + "\n")
        os.rename(staging, target)  # refuses a target that appeared meanwhile
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _check_against_lineage(version: Path, recorded: dict[str, dict[str, Any]]) -> None:
    """Every artifact the lineage records is in ``version`` with the recorded sha256.

    Raises:
        ValueError: naming the first file missing or changed.
    """
    for relative, entry in recorded.items():
        path = version / relative
        if not path.is_file() or file_sha256(path) != entry["sha256"]:
            raise ValueError(f"{path} is missing or differs from its lineage record: the version was changed")


def _lay_out_export(version: Path, export_files: dict[str, dict[str, Any]], staging: Path) -> None:
    """Copy ``version`` into the new folder ``staging`` in a ``fer-export`` directory's layout, with a manifest.

    Args:
        version: The pushed version.
        export_files: The export's files, named as in the version, with their size and sha256 (the lineage's
            ``artifacts``, checked against the files already): the manifest is made from them.
        staging: The folder to create.
    """
    saved_model_dir = artifact("saved_model").file
    saved_model_files = {n for n in export_files if _in_saved_model(n)}
    staging.mkdir()
    for path in sorted(p for p in version.rglob("*") if p.is_file()):
        relative = path.relative_to(version).as_posix()
        destination = staging / (f"{saved_model_dir}/{relative}" if relative in saved_model_files else relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    manifest = {
        f"{saved_model_dir}/{n}" if n in saved_model_files else n: {"bytes": h["bytes"], "sha256": h["sha256"]}
        for n, h in export_files.items()
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(dict(sorted(manifest.items())), indent=2))


def _in_saved_model(relative: str) -> bool:
    """Whether a file of a pushed version belongs to its SavedModel (TensorFlow Serving's names)."""
    return relative in (SAVED_MODEL_PB, "fingerprint.pb") or relative.split("/")[0] in ("variables", "assets")
