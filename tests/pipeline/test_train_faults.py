"""Faults injected into ``fer-train``: the disk fills up at the start of a run or in the middle of one.

A real ``fer-train`` runs in a process whose files may not grow past a size once some epochs are backed up
(``RLIMIT_FSIZE``: a write past it fails with ``[Errno 27] File too large``, as on a full disk; we run as root, so
permissions would not stop a write). It must end with one error line and status 2, leave every file that a resume
reads whole, and the same command, run again without the limit, must finish the run.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.cli.train import build_parser, main
from pipeline.config import resolve_config
from tests.fer_fixtures import ROOT

# Runs fer-train in this process after starting a thread that limits the size of the files it writes (the disk is
# full) once the backup says AFTER epochs are done (at once for 0). Python ignores SIGXFSZ already: said again here.
LAUNCHER = """
import json, resource, runpy, signal, sys, threading, time
metadata, after, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

def fill_the_disk():
    while after:
        try:
            if json.loads(open(metadata).read())["epoch"] >= after:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

if after:
    threading.Thread(target=fill_the_disk, daemon=True).start()
else:
    fill_the_disk()
sys.argv = ["fer-train", *sys.argv[4:]]
runpy.run_module("pipeline.cli.train", run_name="__main__", alter_sys=True)
"""
FILE_SIZE_LIMIT = 100_000  # bytes: the small files of a run fit, a model (220 kB for seed_cnn_tiny) does not
EPOCHS = 3
ADVICE = "disk full or write failed; free space and run the same command again"


def _smoke_args(fer_csv, data_dir, run_dir) -> list[str]:
    return ["--preset", "smoke", "--data", str(fer_csv), "--data-dir", str(data_dir), "--run-dir", str(run_dir)]


def _run(command: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("fer-train: error: ")]


def _assert_resumable(run_dir: Path) -> int:
    """Every file a resume reads is whole, and no temporary file is left; return the epochs the backup holds."""
    assert not [p for p in run_dir.rglob("*") if ".partial" in p.name], "a temporary file was left"
    assert json.loads((run_dir / "config.json").read_text())["epochs"] == EPOCHS
    backup = run_dir / "backup"
    for state in (backup / "latest.keras", backup / "latest.keras.bkp"):
        if state.exists():
            with zipfile.ZipFile(state) as archive:
                assert archive.testzip() is None, state
    for name in ("best.keras", "model.keras"):
        if (run_dir / name).exists():
            with zipfile.ZipFile(run_dir / name) as archive:
                assert archive.testzip() is None, name
    metadata = backup / "training_metadata.json"
    if not metadata.exists():
        assert not (backup / "latest.keras").exists()
        return 0
    assert (backup / "latest.keras").exists()
    return json.loads(metadata.read_text())["epoch"]


# A disk full from the first write is test_a_write_to_a_full_device_is_one_line_and_status_2's case, in-process.
@pytest.mark.slow  # a failed run and its resume, 3 epochs, in second processes: about 45 s on 2 cores
def test_a_full_disk_ends_the_run_with_one_line_and_the_same_command_resumes(tmp_path, fer_csv, data_dir, smoke_run):
    after_epochs = 1
    run_dir = tmp_path / "run"
    command = [*_smoke_args(fer_csv, data_dir, run_dir), "--verbose", "0", "--epochs", str(EPOCHS)]
    metadata = run_dir / "backup" / "training_metadata.json"
    launcher = [sys.executable, "-c", LAUNCHER, str(metadata), str(after_epochs), str(FILE_SIZE_LIMIT)]
    full = _run([*launcher, *command])
    assert "Traceback" not in full.stderr, full.stderr[-3000:]
    errors = _error_lines(full.stderr)
    assert full.returncode == 2 and len(errors) == 1, full.stderr[-3000:]
    assert errors[0].startswith(f"fer-train: error: could not write {run_dir}") and ADVICE in errors[0], errors[0]
    assert "File too large" in errors[0]
    assert not (run_dir / "metrics.json").exists()
    done = _assert_resumable(run_dir)
    assert done >= after_epochs

    resumed = _run([sys.executable, "-m", "pipeline.cli.train", *command])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming {run_dir} from epoch {done + 1} of {EPOCHS}" in resumed.stderr
    with open(run_dir / "history.csv", newline="") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == list(range(EPOCHS))
    assert (run_dir / "metrics.json").exists() and not (run_dir / "backup").exists()
    assert json.loads((run_dir / "run_info.json").read_text())["sessions"] == 2


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_write_to_a_full_device_is_one_line_and_status_2(tmp_path, fer_csv, data_dir, capsys):
    argv = _smoke_args(fer_csv, data_dir, tmp_path / "run")
    args = vars(build_parser().parse_args(argv))
    preset = args.pop("preset")
    args.pop("run_dir")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(resolve_config(preset, args).to_json())  # a run just started
    (tmp_path / "run" / "labels.txt").symlink_to("/dev/full")  # every write there fails: No space left on device
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("fer-train: error: ") == 1 and "Traceback" not in err
    assert f"could not write {tmp_path / 'run'}" in err and "No space left on device" in err and ADVICE in err


def test_a_history_row_cut_short_by_a_failed_write_is_dropped_on_resume(tmp_path):
    from pipeline.train import _truncate_history

    history = tmp_path / "history.csv"
    rows = "epoch,accuracy,loss\n" + "".join(f"{epoch},0.5,1.9\n" for epoch in range(12))
    history.write_text(rows + "1")  # the row of epoch 12, cut in its number by a failed write
    _truncate_history(history, epochs_done=12)
    assert history.read_text() == rows


def test_a_backup_that_keras_wrote_is_restored(tmp_path):
    import keras
    import numpy as np

    from pipeline.training_callbacks import AtomicBackupAndRestore

    def compiled_model():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(32, 4)), np.arange(32) % 3
    interrupted = compiled_model()  # a run of an earlier version, stopped after 2 epochs
    keras_backup = keras.callbacks.BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)
    interrupted.fit(features, labels, epochs=2, callbacks=[keras_backup], verbose=0)
    assert (tmp_path / "backup" / "latest.weights.h5").exists()

    restored = {}

    class Restored(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            restored["weights"] = self.model.get_weights()

    callbacks = [AtomicBackupAndRestore(tmp_path / "backup"), Restored()]
    history = compiled_model().fit(features, labels, epochs=3, callbacks=callbacks, verbose=0)
    assert len(history.history["loss"]) == 1  # epochs 1 and 2 were done
    for a, b in zip(restored["weights"], interrupted.get_weights()):
        np.testing.assert_array_equal(a, b)
