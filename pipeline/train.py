"""``fer-train``: train a zoo model on FER2013 into a resumable run directory.

A run directory holds:
  config.json         the resolved configuration (what to pass to reproduce the run)
  run_info.json       versions, data source and sizes, start and end times
  history.csv         one row per epoch, with epoch time and images/s
  logs/               TensorBoard logs
  best.keras          the checkpoint with the best validation accuracy
  model.keras         the model after the last epoch
  metrics.json        metrics of best.keras on every split present
  learning_curves.png, confusion_matrix.png
  backup/             the training state while a run is unfinished (removed at the end)

Running the same command again resumes an interrupted run, or reports a finished one.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from export.predictors import KerasPredictor, predict_in_batches
from model_zoo import CLASS_NAMES, create_model
from model_zoo.batchnorm_recalibration import recalibrate_batchnorm
from model_zoo.precision import cpu_has_bfloat16, dtype_policy, float32_copy
from pipeline.atomic_files import save_model_atomic, write_text_atomic
from pipeline.config import PRESETS, TrainConfig, add_config_arguments, resolve_config
from pipeline.fer2013_dataset import load_fer2013
from pipeline.input_pipeline import compute_class_weights, dataset_to_arrays, make_eval_dataset, make_train_dataset
from pipeline.metrics import classification_metrics
from pipeline.plots import plot_confusion_matrix, plot_learning_curves
from pipeline.runtime import configure_tensorflow, make_strategy

log = logging.getLogger("fer-train")

# Fields that may change between the first start and a resume of one run.
_RESUMABLE_CHANGES = {"verbose"}


class RunDirError(RuntimeError):
    """The run directory holds something that a run must not overwrite."""


def prepare_run_dir(run_dir: Path, config: TrainConfig) -> str:
    """Create ``run_dir`` for ``config``, or check that it belongs to the same run.

    Returns:
        ``"new"``, ``"resume"`` (an unfinished run of the same config) or ``"finished"``.

    Raises:
        RunDirError: if ``run_dir`` holds another configuration or files that are not a run.
    """
    config_path = run_dir / "config.json"
    if config_path.exists():
        # A field added to TrainConfig after the run started counts as its default.
        saved = {**TrainConfig().to_dict(), **json.loads(config_path.read_text())}
        wanted = config.to_dict()
        changed = sorted(
            k for k in set(saved) | set(wanted) if k not in _RESUMABLE_CHANGES and saved.get(k) != wanted.get(k)
        )
        if changed:
            diff = ", ".join(f"{k}: {saved.get(k)!r} -> {wanted.get(k)!r}" for k in changed)
            raise RunDirError(
                f"{run_dir} holds a run with another configuration ({diff}). "
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
        ValueError: if ``config.data`` is missing or the data lack a training split.
        MissingDataError, BadRowError: from the dataset (see ``pipeline.fer2013_dataset``).
    """
    run_dir = Path(run_dir)
    if not config.data:
        raise ValueError("No training data given: pass --data PATH (a FER2013 CSV, .csv.gz or image-folder directory)")
    state = prepare_run_dir(run_dir, config)
    if state == "finished":
        log.info("%s is a finished run; its metrics are in %s", run_dir, run_dir / "metrics.json")
        return json.loads((run_dir / "metrics.json").read_text())

    configure_tensorflow(config.intra_op_threads, config.inter_op_threads, config.cpu_devices)
    keras.utils.set_random_seed(config.seed)
    data = load_fer2013(config.data, config.data_dir, config.skip_bad_rows)
    splits = _limited_splits(data, config)
    if "train" not in splits:
        raise ValueError(f"The data at {data.source} have no training rows (splits present: {', '.join(splits)})")
    has_validation = "validation" in splits
    if not has_validation:
        log.warning("The data have no validation split: the best checkpoint is chosen by training accuracy.")
    # One pass over the training split: labels for class weights, images for BatchNorm recalibration.
    train_images, train_labels = dataset_to_arrays(splits["train"])
    n_train = len(train_labels)

    on_cpu = not tf.config.list_logical_devices("GPU")
    if config.precision == "mixed_bfloat16" and on_cpu and cpu_has_bfloat16() is False:
        log.warning(
            "This CPU has no bfloat16 instructions (AVX512-BF16 or AMX): mixed_bfloat16 is emulated and "
            "usually slower than float32 here. Pass --precision float32 for a faster run."
        )
    strategy = make_strategy(config.strategy)
    with strategy.scope(), dtype_policy(config.precision):
        model = create_model(config.model, **config.model_kwargs)
        model.compile(
            optimizer=keras.optimizers.Adam(
                _learning_rate(config, n_train),
                use_ema=config.ema_momentum is not None,
                ema_momentum=config.ema_momentum or 0.99,
            ),
            loss=(
                keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
                if config.label_smoothing > 0
                else keras.losses.SparseCategoricalCrossentropy()
            ),
            metrics=["accuracy"],
        )

    train_ds = make_train_dataset(splits["train"], config, len(CLASS_NAMES))
    val_ds = (
        make_eval_dataset(
            splits["validation"],
            config.batch_size,
            config.label_smoothing,
            len(CLASS_NAMES),
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
    callbacks = [
        keras.callbacks.BackupAndRestore(
            run_dir / "backup", save_freq=config.backup_every_steps or "epoch", double_checkpoint=True
        ),
        EpochThroughput(n_train),
        *_ema_callbacks(config),
        *_recalibration_callbacks(config, train_images, strategy),
        checkpoint,
        keras.callbacks.CSVLogger(run_dir / "history.csv", append=True),
        keras.callbacks.TensorBoard(run_dir / "logs", write_graph=False, profile_batch=0),
    ]
    del train_images  # 66 MB for FER2013; the recalibration callback keeps its own sample
    _write_run_info(run_dir, config, data, {k: _count(v) for k, v in splits.items()}, strategy)
    started = time.time()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        class_weight=compute_class_weights(train_labels, config.class_weight, len(CLASS_NAMES)),
        callbacks=callbacks,
        verbose=config.verbose,
        shuffle=False,  # the dataset shuffles itself
    )
    save_model_atomic(float32_copy(model), run_dir / "model.keras")

    metrics = _evaluate_run(run_dir, splits, config.batch_size)
    metrics["training_seconds_this_session"] = round(time.time() - started, 1)
    _write_plots(run_dir, metrics)
    # metrics.json last: its presence marks the run as finished.
    write_text_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    _update_run_info(run_dir, finished=datetime.now(UTC).isoformat(timespec="seconds"))
    return metrics


def _ema_callbacks(config: TrainConfig) -> list[keras.callbacks.Callback]:
    # Validation, the best checkpoint and the history see the averaged weights
    # from the end of each epoch; training and BackupAndRestore (earlier in the
    # list, so its epoch-end backup holds the raw weights) see the raw ones.
    return [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if config.ema_momentum is not None else []


def _recalibration_callbacks(config: TrainConfig, images: np.ndarray, strategy) -> list[keras.callbacks.Callback]:
    if not config.recalibrate_batchnorm:
        return []
    if strategy.num_replicas_in_sync > 1:
        raise ValueError("--recalibrate-batchnorm works with one device only; use fer-export --recalibrate-batchnorm")
    pick = np.random.default_rng(config.seed).permutation(len(images))[: config.recalibrate_batchnorm]
    return [BatchNormRecalibration(images[pick])]


class BatchNormRecalibration(keras.callbacks.Callback):
    """Recompute BatchNorm statistics on unaugmented training faces before each validation.

    Statistics tracked during training follow the augmented faces; validation, the best
    checkpoint and model.keras then see the statistics of the faces they will be served
    (see ``model_zoo.batchnorm_recalibration``). After ``SwapEMAWeights`` in the callback
    list, they are computed for the averaged weights. Training itself never reads them.
    """

    def __init__(self, images: np.ndarray):
        super().__init__()
        self.images = images
        self._done_this_epoch = False

    def on_epoch_begin(self, epoch, logs=None):
        self._done_this_epoch = False

    def on_test_begin(self, logs=None):
        self._recalibrate()

    def on_epoch_end(self, epoch, logs=None):
        self._recalibrate()  # without a validation split: still before the checkpoint

    def _recalibrate(self):
        if not self._done_this_epoch:
            recalibrate_batchnorm(self.model, self.images)
            self._done_this_epoch = True


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


def _limited_splits(data, config: TrainConfig) -> dict:
    splits = {}
    for name, ds in data.splits.items():
        limit = config.max_train_examples if name == "train" else config.max_eval_examples
        splits[name] = ds.take(limit) if limit else ds
    return splits


def _count(ds) -> int:
    n = int(ds.cardinality())
    return n if n >= 0 else sum(1 for _ in ds)


def _learning_rate(config: TrainConfig, n_train: int):
    if config.lr_schedule == "constant":
        return config.learning_rate
    steps_per_epoch = max(1, -(-n_train // config.batch_size))
    warmup = config.warmup_epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate if not warmup else 0.0,
        decay_steps=max(1, config.epochs * steps_per_epoch - warmup),
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


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
    """Drop history rows past the last backed-up epoch: those epochs run again."""
    if not history_csv.exists():
        return
    with open(history_csv, newline="") as f:
        rows = list(csv.reader(f))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) < epochs_done] if rows else []
    write_text_atomic(history_csv, "".join(",".join(r) + "\n" for r in kept) if len(kept) > 1 else "")
    if len(kept) <= 1:
        history_csv.unlink()


def _best_so_far(history_csv: Path, monitor: str) -> float:
    if not history_csv.exists():
        return float("-inf")
    with open(history_csv, newline="") as f:
        values = [float(r[monitor]) for r in csv.DictReader(f) if r.get(monitor)]
    return max(values, default=float("-inf"))


def _evaluate_run(run_dir: Path, splits: dict, batch_size: int) -> dict:
    chosen = run_dir / "best.keras" if (run_dir / "best.keras").exists() else run_dir / "model.keras"
    predictor = KerasPredictor(chosen)
    results = {"model": chosen.name, "splits": {}}
    for name, ds in splits.items():
        images, labels = dataset_to_arrays(ds)
        probs = predict_in_batches(predictor, images, batch_size=max(batch_size, 256))
        results["splits"][name] = classification_metrics(labels, probs, CLASS_NAMES)
        log.info("%s accuracy of %s: %.4f (n=%d)", name, chosen.name, results["splits"][name]["accuracy"], len(labels))
    return results


def _write_plots(run_dir: Path, metrics: dict) -> None:
    if (run_dir / "history.csv").exists():
        plot_learning_curves(run_dir / "history.csv", run_dir / "learning_curves.png")
    split = next(s for s in ("validation", "test", "train") if s in metrics["splits"])
    plot_confusion_matrix(
        metrics["splits"][split]["confusion_matrix"],
        CLASS_NAMES,
        run_dir / "confusion_matrix.png",
        title=f"{metrics['model']} on {split} (accuracy {metrics['splits'][split]['accuracy']:.3f})",
    )


def _write_run_info(run_dir: Path, config: TrainConfig, data, sizes: dict, strategy) -> None:
    info_path = run_dir / "run_info.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info.setdefault("started", datetime.now(UTC).isoformat(timespec="seconds"))
    info.setdefault("sessions", 0)
    info["sessions"] += 1
    info.update(
        command=" ".join(sys.argv),
        data_source=str(data.source),
        prepared_dataset=str(data.prepared_dir),
        skipped_rows=data.skipped_rows,
        examples=sizes,
        versions={"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__},
        host={
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fer-train",
        description="Train a model on FER2013. Repeating the same command resumes an interrupted run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--preset", default="seed", choices=sorted(PRESETS), help="named starting configuration")
    parser.add_argument("--run-dir", help="where the run is written (default: runs/<preset>)")
    add_config_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-train``; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("absl").setLevel(logging.ERROR)  # TFDS's per-split INFO lines and config notices
    args = vars(build_parser().parse_args(argv))
    preset, run_dir = args.pop("preset"), args.pop("run_dir")
    try:
        config = resolve_config(preset, args)
        metrics = train(config, Path(run_dir or f"runs/{preset}"))
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume.", file=sys.stderr)
        return 130
    except (ValueError, RunDirError, FileNotFoundError) as e:
        print(f"fer-train: error: {e}", file=sys.stderr)
        return 2
    for split, m in metrics["splits"].items():
        print(f"{split}: accuracy {m['accuracy']:.4f}, loss {m['loss']:.4f} (n={m['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
