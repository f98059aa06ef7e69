"""Pushing a blessed export to a versioned directory in TensorFlow Serving's layout.

    PUSH_DIR/
      1/  saved_model.pb  variables/  assets/      the SavedModel at the version's root (TF Serving loads it)
          model.keras  model_*.tflite  labels.txt  the other artifacts of the table, beside it
          MODEL_CARD.md  lineage.json  ...         what the pipeline adds
      2/  ...
      .staging-<hex>/                              a version being copied, or one left by a killed push

A version is assembled in a hidden staging directory, flushed to disk, and renamed into place, so TensorFlow
Serving, ``fer-demo --artifacts PUSH_DIR/<version>``, ``fer-eval`` and ``fer-bench`` never see half of one: a
push killed at any point leaves no version, or a complete one. Versions are integers, one more than the highest
present. Pushes may run at once: each claims its number by the rename, which fails on a version already there,
and then takes the next number, so two pushes never get the same version nor overwrite one. Every push holds a
shared ``flock`` on PUSH_DIR itself while it stages; one that gets it exclusively (no other push is staging)
first removes the staging directories that killed pushes left behind. On a file system that cannot lock a
directory, leftovers stay (every reader skips them).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from model_zoo.artifacts import ARTIFACTS, artifact, artifact_path
from model_zoo.constants import LABELS_FILE

EXPORT_RECORDS = ("metadata.json", "parity_report.json")  # copied when the export has them
STAGING_PREFIX = ".staging-"


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
        OSError: if ``push_dir`` cannot be written (no version is added, and the staging is removed).
    """
    source = Path(artifacts_dir)
    saved_model = artifact_path(source, "saved_model")
    if not (saved_model / "saved_model.pb").is_file() or not (source / LABELS_FILE).is_file():
        raise FileNotFoundError(f"{source} is not a complete fer-export directory (SavedModel and {LABELS_FILE})")
    root = Path(push_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _staging_allowed(root):
        staging = root / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        try:
            _copy_export(source, staging, extra_files or {})
            _fsync_tree(staging)
            version = _claim_next_version(staging, root)
            _fsync(root)
            return version
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _staging_allowed(root: Path) -> Iterator[None]:
    """Hold a shared lock on the directory ``root`` while staging a version; any number of pushes hold it at once.

    Before that, a push that gets the lock alone (no other push is staging) removes the staging directories that
    killed pushes left: the kernel drops a killed process's lock, so what is left then is nobody's.

    Args:
        root: The push directory (it exists).

    Yields:
        Nothing; the shared lock is held until the block ends (none where ``root`` cannot be locked).
    """
    directory = os.open(root, os.O_RDONLY)
    try:
        try:
            fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another push is staging (its staging is not leftover), or cleaning: wait
            fcntl.flock(directory, fcntl.LOCK_SH)
        except OSError:
            pass  # this file system cannot lock a directory: leftovers stay (every reader skips them)
        else:
            _remove_leftover_staging(root)
            fcntl.flock(directory, fcntl.LOCK_SH)
        yield
    finally:
        os.close(directory)  # releases the lock


def _remove_leftover_staging(root: Path) -> None:
    """Remove every staging directory (or file) in ``root``; call only while no other push is staging."""
    for leftover in root.glob(f"{STAGING_PREFIX}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _copy_export(source: Path, staging: Path, extra_files: dict[str, str | Path]) -> None:
    """Copy the export ``source`` into the new directory ``staging`` in a version's layout.

    Args:
        source: The export directory (checked complete).
        staging: The staging directory (must not exist).
        extra_files: Files to add, by the name they get.
    """
    shutil.copytree(artifact_path(source, "saved_model"), staging)
    for entry in ARTIFACTS:
        path = artifact_path(source, entry.backend)
        if entry.kind != "saved_model" and path.is_file() and not (staging / entry.file).exists():
            shutil.copy2(path, staging / entry.file)
    for name in (LABELS_FILE, *EXPORT_RECORDS):
        if (source / name).is_file():
            shutil.copy2(source / name, staging / name)
    for name, path in extra_files.items():
        shutil.copy2(path, staging / name)


def _claim_next_version(staging: Path, root: Path) -> Path:
    """Rename ``staging`` to the next free version number of ``root``.

    The rename is the claim: it fails when another push renamed its staging to that number first (a version is
    never empty), and then the next number is tried.

    Args:
        staging: The complete version, in ``root``.
        root: The push directory.

    Returns:
        The version's directory.

    Raises:
        OSError: if the rename fails for another reason than a number already taken.
    """
    numbers = [int(p.name) for p in root.iterdir() if p.name.isdigit()]  # files too: a number taken by anything
    version = max(numbers, default=0) + 1
    while True:
        target = root / str(version)
        try:
            staging.rename(target)
            return target
        except OSError:
            if not os.path.lexists(target):
                raise
        version += 1


def _fsync_tree(directory: Path) -> None:
    """Flush every file and directory under ``directory`` (and itself) to disk, so that a power cut after the
    rename cannot leave a version of empty files."""
    for folder, _, files in os.walk(directory):
        for name in files:
            _fsync(Path(folder) / name)
        _fsync(Path(folder))


def _fsync(path: Path) -> None:
    """``fsync`` a file or a directory."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
