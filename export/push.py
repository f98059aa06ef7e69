"""Pushing a blessed export to a versioned directory in TensorFlow Serving's layout.

    PUSH_DIR/
      1/  saved_model.pb  variables/  assets/      the SavedModel at the version's root (TF Serving loads it)
          model.keras  model_*.tflite  labels.txt  the other artifacts of the table, beside it
          MODEL_CARD.md  lineage.json  ...         what the pipeline adds
      2/  ...

A version is assembled in a hidden staging directory and renamed into place, so TensorFlow Serving, ``fer-demo
--artifacts PUSH_DIR/<version>``, ``fer-eval`` and ``fer-bench`` never see half of one. Versions are integers,
one more than the highest present.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from model_zoo.artifacts import ARTIFACTS, artifact, artifact_path
from model_zoo.constants import LABELS_FILE

EXPORT_RECORDS = ("metadata.json", "parity_report.json")  # copied when the export has them


def pushed_name(path_in_export: str) -> str:
    """Where a file of an export (a path relative to it) lies in a pushed version: the SavedModel's files at the
    root, everything else under its own name."""
    prefix = artifact("saved_model").file + "/"
    return path_in_export.removeprefix(prefix)


def pushed_versions(push_dir: str | Path) -> list[int]:
    """The versions present in ``push_dir``, ascending (directories named by an integer)."""
    root = Path(push_dir)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def latest_pushed(push_dir: str | Path) -> Path | None:
    """The directory of the highest version in ``push_dir``, or None if nothing was pushed."""
    versions = pushed_versions(push_dir)
    return Path(push_dir) / str(versions[-1]) if versions else None


def push(artifacts_dir: str | Path, push_dir: str | Path, extra_files: dict[str, str | Path] | None = None) -> Path:
    """Copy an export into ``push_dir`` as its next version.

    Args:
        artifacts_dir: A ``fer-export`` directory.
        push_dir: The versioned directory (created if missing).
        extra_files: Files to put beside the artifacts, by the name they get (``MODEL_CARD.md``, ``lineage.json``).

    Returns:
        The new version's directory.

    Raises:
        FileNotFoundError: if the export has no SavedModel or no ``labels.txt``.
    """
    source = Path(artifacts_dir)
    saved_model = artifact_path(source, "saved_model")
    if not (saved_model / "saved_model.pb").is_file() or not (source / LABELS_FILE).is_file():
        raise FileNotFoundError(f"{source} is not a complete fer-export directory (SavedModel and {LABELS_FILE})")
    root = Path(push_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{uuid.uuid4().hex}"
    try:
        shutil.copytree(saved_model, staging)
        for entry in ARTIFACTS:
            path = artifact_path(source, entry.backend)
            if entry.kind != "saved_model" and path.is_file() and not (staging / entry.file).exists():
                shutil.copy2(path, staging / entry.file)
        for name in (LABELS_FILE, *EXPORT_RECORDS):
            if (source / name).is_file():
                shutil.copy2(source / name, staging / name)
        for name, path in (extra_files or {}).items():
            shutil.copy2(path, staging / name)
        while True:  # another push may take a number first: then the next one
            target = root / str((pushed_versions(root) or [0])[-1] + 1)
            try:
                staging.rename(target)
                return target
            except OSError:
                if not target.exists():
                    raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
