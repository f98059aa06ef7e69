"""The callbacks of a training run that write files, each write beside and renamed into place.

A kill or a full disk at any moment leaves the last backup and the best checkpoint as they were, so the same
``fer-train`` command resumes the run (``pipeline.train``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import keras

from fer_runtime.atomic_files import atomic_path, save_model_atomic, write_text_atomic
from model_zoo.precision import float32_copy

#: The backup's model and optimiser state: a ``.keras`` archive, built in memory and renamed into place.
BACKUP_STATE = "latest.keras"


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Name ``path`` in an ``OSError`` raised while writing it: a failed write of an open file names no file, and
    one of the atomic writer names its temporary file.

    Raises:
        OSError: the error raised in the block, with ``filename`` set to ``path``.
    """
    try:
        yield
    except OSError as e:
        e.filename = str(path)
        raise


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore`` whose files are written beside and renamed into place, with the previous pair
    kept as ``.bkp`` (Keras' ``double_checkpoint``).

    Keras writes its HDF5 weights file in place: a kill or a full disk mid-write leaves half of it, and h5py may
    crash the process on the failed write. Here the model's and optimiser's state go into a ``.keras`` archive
    (built in memory, then written in one rename), and the epoch count too; a failed write leaves the last backup
    as it was. A backup that Keras wrote (``latest.weights.h5``, a run interrupted before this version) is
    restored once, then replaced.
    """

    def __init__(self, backup_dir: str | Path, save_freq: str | int = "epoch"):
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=True)
        keras_weights = Path(self._weights_path)
        self._weights_path = str(Path(backup_dir) / BACKUP_STATE)
        self._prev_weights_path = f"{self._weights_path}.bkp"
        if keras_weights.exists() and not Path(self._weights_path).exists():
            self._weights_path, self._prev_weights_path = str(keras_weights), f"{keras_weights}.bkp"

    def _save_model(self) -> None:
        """Back up the training state: the previous pair to ``.bkp``, then the state, then the epoch count.

        If the epoch count cannot be written, the state goes back to the previous one: the pair always matches.
        """
        backup_dir = Path(self.backup_dir)
        backup_dir.mkdir(parents=True, exist_ok=True)
        state, metadata = backup_dir / BACKUP_STATE, Path(self._training_metadata_path)
        previous_state = state.with_name(state.name + ".bkp")
        if Path(self._weights_path) != state:  # the first backup after restoring one of Keras' own
            self._weights_path, self._prev_weights_path = str(state), str(previous_state)
        for path in (state, metadata):
            if path.exists():
                _copy_atomic(path, path.with_name(path.name + ".bkp"))
        with writing(state):
            save_model_atomic(self.model, state)
        try:
            with writing(metadata):
                write_text_atomic(metadata, json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
        except OSError:
            if previous_state.exists():
                os.replace(previous_state, state)
            else:
                state.unlink()
            raise


def _copy_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, written beside and renamed into place.

    Raises:
        OSError: if the copy cannot be written (``target`` is left as it was), naming ``target``.
    """
    with writing(target), atomic_path(target) as staging:
        shutil.copyfile(source, staging)


class BestCheckpoint(keras.callbacks.Callback):
    """Save the model whenever ``monitor`` beats ``best`` (higher is better), atomically.

    Keras' ModelCheckpoint writes in place, so a kill during the write would
    destroy the best model so far; this one never leaves a half-written file.
    """

    def __init__(self, path: Path, monitor: str, best: float = float("-inf")):
        super().__init__()
        self.path, self.monitor, self.best = path, monitor, best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value > self.best:
            self.best = float(value)
            with writing(self.path):
                save_model_atomic(float32_copy(self.model), self.path)


class EpochThroughput(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` and ``images_per_sec`` (training images over epoch wall time) to the epoch logs."""

    def __init__(self, n_train: int):
        super().__init__()
        self.n_train = n_train

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        if logs is not None:
            logs["epoch_seconds"] = round(seconds, 2)
            logs["images_per_sec"] = round(self.n_train / seconds, 1)
