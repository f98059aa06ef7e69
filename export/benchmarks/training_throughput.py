"""Training throughput (images/s) of a zoo model under several TensorFlow thread settings.

    python -m export.cli.training_throughput --data ../shared/data/fer2013 --steps 60 --json throughput.json

Each setting runs in its own process (thread pools are fixed once TensorFlow
starts) on real batches with augmentation, and reports the median images/s
over the timed steps, after warm-up, and the CPU time used per wall second
(about 2.0 when both cores of a 2-core machine work).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

SETTINGS = {
    "tf-default": (None, None),
    "intra2-inter1": (2, 1),
    "intra2-inter2": (2, 2),
    "intra1-inter2": (1, 2),
}


def measure(
    data: str,
    data_dir: str | None,
    model: str,
    batch_size: int,
    steps: int,
    warmup: int,
    intra: int | None,
    inter: int | None,
    precision: str = "float32",
) -> dict:
    """Train ``model`` (in ``precision``) for ``warmup + steps`` batches in this process; time the last ``steps``."""
    import keras
    import numpy as np
    import tensorflow as tf

    from pipeline.config import resolve_config

    # Set the pools directly: "tf-default" must leave TensorFlow's own choice alone.
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)

    from model_zoo import create_model
    from model_zoo.precision import dtype_policy
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import make_train_dataset

    config = resolve_config("seed", {"batch_size": batch_size, "data": data})
    ds = make_train_dataset(load_fer2013(data, data_dir).split("train"), config).repeat()
    with dtype_policy(precision):
        net = create_model(model)
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    it = iter(ds)
    step_times, cpu_start, wall_start = [], None, None
    for i in range(warmup + steps):
        x, y = next(it)
        if i == warmup:
            cpu_start, wall_start = time.process_time(), time.perf_counter()
        t = time.perf_counter()
        net.train_on_batch(x, y)
        step_times.append(time.perf_counter() - t)
    wall = time.perf_counter() - wall_start
    timed = np.array(step_times[warmup:])
    return {
        "precision": precision,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "images_per_sec_median": round(batch_size / float(np.median(timed)), 1),
        "images_per_sec_overall": round(batch_size * steps / wall, 1),
        "cpu_seconds_per_wall_second": round((time.process_time() - cpu_start) / wall, 2),
    }


def measure_settings(
    data: str,
    data_dir: str | None = None,
    model: str = "seed_cnn",
    batch_size: int = 64,
    steps: int = 60,
    warmup: int = 10,
    settings: list[str] | None = None,
    precisions: list[str] | None = None,
) -> dict:
    """``measure`` each thread setting in each precision, each in a fresh process (thread pools are fixed once
    TensorFlow starts).

    Args:
        settings: Keys of ``SETTINGS`` (default: all).
        precisions: Keys of ``model_zoo.precision.PRECISIONS`` (default: float32).

    Returns:
        ``model``, ``batch_size``, ``steps``, ``cpu_count`` and ``results``: ``measure``'s result by setting name
        (``setting/precision`` when several precisions are measured).

    Raises:
        subprocess.CalledProcessError: if a measuring process fails.
    """
    precisions = precisions or ["float32"]
    results = {}
    for setting, precision in [(s, p) for s in settings or SETTINGS for p in precisions]:
        name = setting if len(precisions) == 1 else f"{setting}/{precision}"
        cmd = [sys.executable, "-m", "export.cli.training_throughput", "--one", setting, "--precisions", precision,
               "--data", data, "--model", model, "--batch-size", str(batch_size), "--steps", str(steps),
               "--warmup", str(warmup), *(["--data-dir", data_dir] if data_dir else [])]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ})
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    return {"model": model, "batch_size": batch_size, "steps": steps, "cpu_count": os.cpu_count(), "results": results}


def format_table(measured: dict) -> str:
    """``measure_settings``' results as a text table, a row per setting."""
    lines = [
        f"{'setting':<30} {'intra':>5} {'inter':>5} {'img/s (median step)':>20} {'img/s (overall)':>16} {'CPU/wall':>9}"
    ]
    for name, r in measured["results"].items():
        lines.append(
            f"{name:<30} {r['intra_op_threads']:>5} {r['inter_op_threads']:>5} {r['images_per_sec_median']:>20} "
            f"{r['images_per_sec_overall']:>16} {r['cpu_seconds_per_wall_second']:>9}"
        )
    return "\n".join(lines)
