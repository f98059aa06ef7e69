"""``fer-train``: train a zoo model on FER2013 (or its FER+ labels) into a resumable run directory.

A run directory holds:
  config.json         the resolved configuration (what to pass to reproduce the run; ``labels``: the label mode)
  labels.txt          the model's class names, one per line, in output order (7 for fer2013, 8 for FER+)
  run_info.json       versions, data source and sizes, start and end times
  history.csv         one row per epoch, with epoch time and images/s
  logs/               TensorBoard logs
  best.keras          the checkpoint with the best validation accuracy
  model.keras         the model after the last epoch
  metrics.json        metrics of best.keras on every split present
  learning_curves.png, confusion_matrix.png
  backup/             the training state while a run is unfinished (removed at the end)

Running the same command again resumes an interrupted run, or reports a finished one. Every file that a resume
reads is written beside and renamed into place (the backup too), so a kill or a full disk at any moment leaves a
run that the same command resumes; a failed write (disk full, file too large, I/O error) ends the run with a
``RunWriteError`` that says so.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import keras
import tensorflow as tf

from fer_runtime.atomic_files import atomic_path, save_model_atomic, write_text_atomic
from fer_runtime.predictors import KerasPredictor, predict_in_batches
from model_zoo.constants import write_labels
from model_zoo.precision import float32_copy
from pipeline.config import RESUMABLE_CHANGES, TrainConfig, changed_since
from pipeline.distillation import distilled_targets, load_teachers, teacher_probabilities
from pipeline.evaluate import score_examples
from pipeline.fer2013_dataset import Fer2013Data, load_fer2013
from pipeline.input_pipeline import dataset_to_arrays, examples_to_arrays, make_eval_dataset, make_train_dataset
from pipeline.plots import plot_confusion_matrix, plot_learning_curves
from pipeline.recipe import build_compiled_model, class_weights, recipe_callbacks
from pipeline.run_metadata import chosen_model, environment
from pipeline.runtime import configure_tensorflow, make_strategy
from pipeline.training_callbacks import AtomicBackupAndRestore, BestCheckpoint, EpochThroughput, writing

log = logging.getLogger("fer-train")


#: The errors of a write that failed for want of room or a working disk, not for a wrong path.
WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


class RunDirError(RuntimeError):
    """The run directory cannot take this run: it holds something that a run must not overwrite, or it cannot be
    written."""


class RunWriteError(RunDirError):
    """A write into the run directory failed (disk full, file too large, I/O error). What was written before is
    intact: running the same command again, once there is room, resumes the run."""


def prepare_run_dir(run_dir: Path, config: TrainConfig) -> str:
    """Create ``run_dir`` for ``config``, or check that it belongs to the same run.

    Returns:
        ``"new"``, ``"resume"`` (an unfinished run of the same config) or ``"finished"``.

    Raises:
        RunDirError: if ``run_dir`` holds another configuration or files that are not a run.
    """
    config_path = run_dir / "config.json"
    if config_path.exists():
        changed = changed_since(config_path, config.to_dict(), TrainConfig().to_dict(), RESUMABLE_CHANGES)
        if changed:
            raise RunDirError(
                f"{run_dir} holds a run with another configuration ({', '.join(changed)}). "
                "Pass a new --run-dir, or repeat the original command to resume that run."
            )
        return "finished" if (run_dir / "metrics.json").exists() else "resume"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunDirError(f"{run_dir} exists and is not a run directory (no config.json); pass another --run-dir.")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(config_path, config.to_json())
    return "new"


def train(config: TrainConfig, run_dir: str | Path) -> dict:
    """Train ``config`` into ``run_dir`` (resuming it if it is unfinished) and return its metrics.

    Args:
        config: The resolved configuration (see ``resolve_config``).
        run_dir: The run directory; created if missing.

    Returns:
        The content of ``metrics.json``.

    Raises:
        RunDirError: if ``run_dir`` belongs to another configuration.
        RunWriteError: if a write fails for want of room (the run can be resumed).
        ValueError: if ``config.data`` is missing or the data lack a training split.
        MissingDataError, MissingFerPlusError, BadRowError, FerPlusError: from the dataset (see
            ``pipeline.fer2013_dataset``).
    """
    run_dir = Path(run_dir)
    with _write_failures_reported(run_dir):
        return _train(config, run_dir)


@contextmanager
def _write_failures_reported(run_dir: Path) -> Iterator[None]:
    """Turn a failed write (an ``OSError`` of ``WRITE_FAILURES``, or TensorFlow's error for one) into a
    ``RunWriteError`` that names the file (or ``run_dir``) and says how to go on.

    Raises:
        RunWriteError: for such an error; other errors pass unchanged.
    """
    try:
        yield
    except (OSError, tf.errors.OpError) as e:
        reason = _write_failure_reason(e)
        if reason is None:
            raise
        path = getattr(e, "filename", None) or run_dir
        raise RunWriteError(
            f"could not write {path} ({reason}): disk full or write failed; free space and run the same command again"
        ) from e


def _write_failure_reason(error: BaseException) -> str | None:
    """The system's words for a failed write (``File too large``, ...), or None if ``error`` is not one."""
    if isinstance(error, OSError):
        return os.strerror(error.errno) if error.errno in WRITE_FAILURES else None
    message = str(getattr(error, "message", error))
    return next((os.strerror(code) for code in WRITE_FAILURES if os.strerror(code) in message), None)


def _train(config: TrainConfig, run_dir: Path) -> dict:
    """``train``'s work, its failed writes reported by the caller."""
    if not config.data:
        raise ValueError("No training data given: pass --data PATH (a FER2013 CSV, .csv.gz or image-folder directory)")
    state = prepare_run_dir(run_dir, config)
    if state == "finished":
        log.info("%s is a finished run; its metrics are in %s", run_dir, run_dir / "metrics.json")
        return json.loads((run_dir / "metrics.json").read_text())

    configure_tensorflow(config.intra_op_threads, config.inter_op_threads, config.cpu_devices)
    keras.utils.set_random_seed(config.seed)
    data = load_fer2013(config.data, config.data_dir, config.skip_bad_rows, config.labels, config.ferplus)
    splits = data.limited(config.max_train_examples, config.max_eval_examples)
    # What the loss sees: class indices, or the vote distributions of soft labels (the same faces, in order).
    targets = data.limited(config.max_train_examples, config.max_eval_examples, view="targets")
    num_classes = len(data.class_names)
    write_labels(run_dir, data.class_names)
    if "train" not in splits:
        raise ValueError(f"The data at {data.source} have no training rows (splits present: {', '.join(splits)})")
    has_validation = "validation" in splits
    if not has_validation:
        log.warning("The data have no validation split: the best checkpoint is chosen by training accuracy.")
    # One pass over the training split: labels for class weights, images for BatchNorm recalibration.
    train_images, train_labels = dataset_to_arrays(splits["train"])
    n_train = len(train_labels)

    strategy = make_strategy(config.strategy)
    model = build_compiled_model(config, n_train, strategy)
    train_targets = _distilled(targets["train"], config, data.class_names) if config.teacher else targets["train"]
    train_ds = make_train_dataset(train_targets, config, num_classes)
    val_ds = (
        make_eval_dataset(
            targets["validation"],
            config.batch_size,
            config.soft_targets,
            num_classes,
            drop_remainder=strategy.num_replicas_in_sync > 1,
        )
        if has_validation
        else None
    )
    monitor = "val_accuracy" if has_validation else "accuracy"
    initial_epoch = _resume_point(run_dir) if state == "resume" else 0
    if state == "resume":
        log.info("Resuming %s from epoch %d of %d", run_dir, initial_epoch + 1, config.epochs)
    _truncate_history(run_dir / "history.csv", initial_epoch)
    # After a resume the best so far is in the history; without it the first
    # epoch after the restart would overwrite a better checkpoint.
    checkpoint = BestCheckpoint(run_dir / "best.keras", monitor, _best_so_far(run_dir / "history.csv", monitor))
    # Callbacks run in this order at each epoch's end. The history row is written before the backup that
    # marks the epoch done: a kill between the two reruns that epoch (its row is dropped on resume), never
    # skips its row. The backup keeps the raw weights, before the recipe's callbacks swap in averaged ones.
    callbacks = [
        EpochThroughput(n_train),
        keras.callbacks.CSVLogger(run_dir / "history.csv", append=True),
        AtomicBackupAndRestore(run_dir / "backup", save_freq=config.backup_every_steps or "epoch"),
        *recipe_callbacks(config, train_images, strategy, has_validation),
        checkpoint,
        keras.callbacks.TensorBoard(run_dir / "logs", write_graph=False, profile_batch=0),
    ]
    del train_images  # 66 MB for FER2013; the recalibration callback keeps its own sample
    _write_run_info(run_dir, data, {name: _count(ds) for name, ds in splits.items()}, strategy)
    started = time.time()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=class_weights(config, train_labels),
        callbacks=callbacks,
        verbose=config.verbose,
        shuffle=False,  # the dataset shuffles itself
    )
    with writing(run_dir / "model.keras"):
        save_model_atomic(float32_copy(model), run_dir / "model.keras")

    examples = data.limited(config.max_train_examples, config.max_eval_examples, view="examples")
    metrics = _evaluate_run(run_dir, examples, data, config.batch_size)
    metrics["training_seconds_this_session"] = round(time.time() - started, 1)
    _write_plots(run_dir, metrics)
    # metrics.json last: its presence marks the run as finished.
    write_text_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    _update_run_info(run_dir, finished=datetime.now(UTC).isoformat(timespec="seconds"))
    return metrics


def _distilled(train: tf.data.Dataset, config: TrainConfig, class_names: tuple[str, ...]) -> tf.data.Dataset:
    """The training (image, target) pairs with the targets of ``config.teacher``'s ensemble mixed in."""
    images, targets = dataset_to_arrays(train)
    teacher = teacher_probabilities(load_teachers(config.teacher), images, class_names)
    log.info("Distilling from %s (%.0f %% of each target)", config.teacher, 100 * config.distill_weight)
    return tf.data.Dataset.from_tensor_slices((images, distilled_targets(targets, teacher, config.distill_weight)))


def _count(ds) -> int:
    n = int(ds.cardinality())
    return n if n >= 0 else sum(1 for _ in ds)


def _resume_point(run_dir: Path) -> int:
    """The number of epochs the backup says are complete (0 if there is no backup)."""
    for name in ("training_metadata.json", "training_metadata.json.bkp"):
        path = run_dir / "backup" / name
        if path.exists():
            try:
                return int(json.loads(path.read_text())["epoch"])
            except (ValueError, KeyError):
                continue
    return 0


def _truncate_history(history_csv: Path, epochs_done: int) -> None:
    """Drop history rows past the last backed-up epoch (those epochs run again), and a row cut short by a failed
    write (fewer fields than the header)."""
    if not history_csv.exists():
        return
    with open(history_csv, newline="") as f:
        rows = list(csv.reader(f))
    kept = [rows[0]] + [r for r in rows[1:] if len(r) == len(rows[0]) and int(r[0]) < epochs_done] if rows else []
    write_text_atomic(history_csv, "".join(",".join(r) + "\n" for r in kept) if len(kept) > 1 else "")
    if len(kept) <= 1:
        history_csv.unlink()


def _best_so_far(history_csv: Path, monitor: str) -> float:
    if not history_csv.exists():
        return float("-inf")
    with open(history_csv, newline="") as f:
        values = [float(r[monitor]) for r in csv.DictReader(f) if r.get(monitor)]
    return max(values, default=float("-inf"))


def _evaluate_run(run_dir: Path, examples: dict, data: Fer2013Data, batch_size: int) -> dict:
    """The figures of the run's chosen model on every split's ``examples``, as ``fer-eval`` computes them."""
    chosen = chosen_model(run_dir)
    predictor = KerasPredictor(chosen)
    results = {"model": chosen.name, "splits": {}}
    for name, ds in examples.items():
        arrays = examples_to_arrays(ds)
        probs = predict_in_batches(predictor, arrays["image"], max(batch_size, 256))
        results["splits"][name] = score_examples(probs, data.class_names, arrays, data.label_mode)
        log.info("%s accuracy of %s: %.4f (n=%d)", name, chosen.name, results["splits"][name]["accuracy"], len(probs))
    return results


def _write_plots(run_dir: Path, metrics: dict) -> None:
    """The learning curves and the confusion matrix of the chosen split, each written beside and renamed."""
    if (run_dir / "history.csv").exists():
        with writing(run_dir / "learning_curves.png"), atomic_path(run_dir / "learning_curves.png") as staging:
            plot_learning_curves(run_dir / "history.csv", staging)
    split = next(s for s in ("validation", "test", "train") if s in metrics["splits"])
    with writing(run_dir / "confusion_matrix.png"), atomic_path(run_dir / "confusion_matrix.png") as staging:
        plot_confusion_matrix(
            metrics["splits"][split]["confusion_matrix"],
            list(metrics["splits"][split]["per_class"]),
            staging,
            title=f"{metrics['model']} on {split} (accuracy {metrics['splits'][split]['accuracy']:.3f})",
        )


def _write_run_info(run_dir: Path, data, sizes: dict, strategy) -> None:
    info_path = run_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info.setdefault("started", datetime.now(UTC).isoformat(timespec="seconds"))
    info.setdefault("sessions", 0)
    info["sessions"] += 1
    env = environment()
    info.update(
        command=" ".join(sys.argv),
        data_source=str(data.source),
        prepared_dataset=str(data.prepared_dir),
        skipped_rows=data.skipped_rows,
        labels=data.label_mode,
        ferplus_source=str(data.ferplus) if data.ferplus else None,
        left_out_rows=data.excluded,
        examples=sizes,
        versions={"python": env["python"], "tensorflow": tf.__version__, "keras": keras.__version__},
        packages=env["packages"],
        host={
            "platform": env["platform"],
            "cpu_count": env["cpu_count"],
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "gpus": [d.name for d in tf.config.list_logical_devices("GPU")],
            "replicas": strategy.num_replicas_in_sync,
        },
    )
    write_text_atomic(info_path, json.dumps(info, indent=2))


def _update_run_info(run_dir: Path, **fields) -> None:
    info_path = run_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info.update(fields)
    write_text_atomic(info_path, json.dumps(info, indent=2))
