"""The benchmark behind ``fer-bench`` (``export.cli.bench``): every backend of an export on the same faces.

For each backend of the artifact table and thread count, in a fresh process (thread pools and peak
memory are per process): load time; batch-1 latency p50/p90/p99 over
``--iterations`` calls after ``--warmup`` calls; batch-64 throughput; file size;
peak resident memory; and accuracy on ``--split`` when ``--data`` is given, against the labels the export's
model was trained on (``load_bench_inputs``' ``labels``: the export's label mode, ``export.export_labels``), so
that a label is the index of the model's class. Every backend gets the same inputs. Prints a table and writes
JSON and a bar chart.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model_zoo.artifacts import BACKENDS, artifact, artifact_path
from model_zoo.constants import DEFAULT_LABEL_MODE, FACE_SHAPE

RESULT_FIELDS = (
    "backend",
    "threads",
    "load_seconds",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_calls",
    "batch64_images_per_sec",
    "file_megabytes",
    "peak_rss_megabytes",
    "accuracy",
    "e2e_ms_p50",
    "e2e_naive_ms_p50",
    "e2e_speedup",
    "e2e_faces",
    "e2e_naive_faces",
)
E2E_FRAME_PHOTO = "astronaut.jpg"  # one of serving_demo's example photos: one frontal face


def _size_megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1e6, 3)


def _load_backend(artifacts: Path, backend: str, threads: int):
    """The predictor of ``backend`` with ``threads`` CPU threads (TensorFlow's pools for the non-TFLite ones)."""
    from fer_runtime.predictors import load_backend

    if artifact(backend).kind != "tflite":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    return load_backend(artifacts, backend, num_threads=threads)


def measure_backend(
    artifacts: Path,
    backend: str,
    threads: int,
    faces: np.ndarray,
    labels: np.ndarray | None,
    iterations: int,
    warmup: int,
    batch_runs: int,
) -> dict:
    """Measure one backend in this process (see the module docstring for what)."""
    started = time.perf_counter()
    predict = _load_backend(artifacts, backend, threads).predict
    predict(faces[:1])  # the first call allocates and traces: part of loading
    load_seconds = time.perf_counter() - started
    for i in range(warmup):
        predict(faces[i % len(faces)][None])
    latencies = []
    for i in range(iterations):
        x = faces[i % len(faces)][None]
        t = time.perf_counter()
        predict(x)
        latencies.append((time.perf_counter() - t) * 1000)
    batch = np.resize(faces, (64, *faces.shape[1:]))
    predict(batch)  # warm the batch-64 shape
    batch_times = []
    for _ in range(batch_runs):
        t = time.perf_counter()
        predict(batch)
        batch_times.append(time.perf_counter() - t)
    accuracy = None
    if labels is not None:
        probs = np.concatenate([predict(faces[i : i + 64]) for i in range(0, len(faces), 64)])
        accuracy = float(np.mean(probs.argmax(1) == labels))
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    return {
        "backend": backend,
        "threads": threads,
        "load_seconds": round(load_seconds, 3),
        "latency_ms_p50": round(float(p50), 4),
        "latency_ms_p90": round(float(p90), 4),
        "latency_ms_p99": round(float(p99), 4),
        "latency_calls": iterations,
        "batch64_images_per_sec": round(64 / float(np.median(batch_times)), 1),
        "file_megabytes": _size_megabytes(artifact_path(artifacts, backend)),
        "peak_rss_megabytes": _peak_rss_megabytes(),
        "accuracy": accuracy,
    } | dict.fromkeys(RESULT_FIELDS[-5:])


def end_to_end_frame() -> np.ndarray:
    """A 640x480 RGB frame with one real face (the shipped example photo on a gray background)."""
    import cv2

    from serving_demo import EXAMPLES_DIR
    from serving_demo.image_io import load_image

    frame = np.full((480, 640, 3), 90, np.uint8)
    photo = load_image(EXAMPLES_DIR / E2E_FRAME_PHOTO)
    frame[:, 64:576] = cv2.resize(photo, (512, 480), interpolation=cv2.INTER_AREA)
    return frame


def measure_end_to_end(
    artifacts: Path, backend: str, threads: int, frame: np.ndarray, iterations: int, detector: str | None = None
) -> dict:
    """Detect + classify + draw on ``frame``: the recognizer's pipeline (with ``detector``, default: the default
    detector) against the naive one, same backend.

    The naive way is what the ``fer`` package and most tutorials do: Haar with scale factor 1.1
    and 5 neighbours on the full frame, then the classifier.
    """
    import cv2

    from serving_demo.detectors import DEFAULT_DETECTOR
    from serving_demo.detectors.haar import naive_haar
    from serving_demo.drawing import draw_faces
    from serving_demo.recognizer import EmotionRecognizer

    cv2.setNumThreads(threads)
    recognizer = EmotionRecognizer(
        artifacts, backend=backend, detector=detector or DEFAULT_DETECTOR, num_threads=threads
    )
    naive = naive_haar()
    timings: dict[str, list[float]] = {"fast": [], "naive": []}
    faces = {}
    for i in range(iterations + 3):  # the first calls load and warm up
        for name, detector in (("fast", None), ("naive", naive)):
            t = time.perf_counter()
            analysis = recognizer.analyze(frame, detector=detector)
            draw_faces(analysis.image, analysis.faces)
            if i >= 3:
                timings[name].append((time.perf_counter() - t) * 1000)
            faces[name] = len(analysis.faces)
    fast, slow = float(np.median(timings["fast"])), float(np.median(timings["naive"]))
    return {
        "e2e_ms_p50": round(fast, 3),
        "e2e_naive_ms_p50": round(slow, 3),
        "e2e_speedup": round(slow / fast, 2),
        "e2e_faces": faces["fast"],
        "e2e_naive_faces": faces["naive"],
    }


def run_bench(
    artifacts: str | Path,
    faces: np.ndarray,
    labels: np.ndarray | None = None,
    backends: tuple[str, ...] = BACKENDS,
    threads: tuple[int, ...] = (1, 2),
    iterations: int = 300,
    warmup: int = 30,
    batch_runs: int = 20,
    e2e_iterations: int = 50,
    detector: str | None = None,
) -> list[dict]:
    """Measure every (backend, threads) pair, each in a fresh process, on the same ``faces``.

    Args:
        artifacts: A ``fer-export`` output directory.
        faces: uint8 (N, 48, 48, 1) faces, the inputs of every backend.
        labels: Their labels, for accuracy (optional).
        backends, threads: What to measure.
        iterations, warmup: Timed and untimed batch-1 calls.
        batch_runs: Timed batch-64 calls.
        e2e_iterations: Timed end-to-end 640x480 frames per backend (0: none).
        detector: The face detector of the end-to-end frames (default: the default detector).

    Returns:
        One dict per pair with the fields of ``RESULT_FIELDS``.

    Raises:
        FileNotFoundError: if an artifact is missing.
        RuntimeError: if a measurement process fails (its error output is included).
    """
    artifacts = Path(artifacts)
    backends = tuple(artifact(b).backend for b in backends)  # older names accepted
    for backend in backends:
        if not artifact_path(artifacts, backend).exists():
            raise FileNotFoundError(f"{artifact_path(artifacts, backend)} is missing; run fer-export first")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        arrays = {"faces": faces, "frame": end_to_end_frame()} | ({"labels": labels} if labels is not None else {})
        np.savez(inputs, **arrays)
        for backend in backends:
            for n in threads:
                command = [sys.executable, "-m", "export.cli.bench", "--worker", backend, "--threads", str(n),
                           "--inputs", str(inputs), "--artifacts", str(artifacts), "--iterations", str(iterations),
                           "--warmup", str(warmup), "--batch-runs", str(batch_runs),
                           "--e2e-iterations", str(e2e_iterations)]  # fmt: skip
                if detector:
                    command += ["--detector", detector]
                env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": _project_root()}
                done = subprocess.run(command, capture_output=True, text=True, env=env)
                if done.returncode != 0:
                    raise RuntimeError(f"Measuring {backend} with {n} thread(s) failed:\n{done.stderr[-3000:]}")
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def format_table(results: list[dict]) -> str:
    """The printed benchmark table, plus the SavedModel / TFLite latency ratios measured in the same run."""
    header = (
        f"{'backend':<24}{'thr':>4}{'load s':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
        f"{'b64 img/s':>11}{'size MB':>9}{'peak MB':>9}{'accuracy':>9}{'e2e ms':>9}{'naive ms':>9}{'speedup':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        accuracy = f"{r['accuracy']:.4f}" if r["accuracy"] is not None else "-"
        e2e = (
            f"{r['e2e_ms_p50']:>9.2f}{r['e2e_naive_ms_p50']:>9.2f}{r['e2e_speedup']:>7.1f}x"
            if r["e2e_ms_p50"] is not None
            else f"{'-':>9}{'-':>9}{'-':>8}"
        )
        lines.append(
            f"{r['backend']:<24}{r['threads']:>4}{r['load_seconds']:>8.2f}{r['latency_ms_p50']:>9.3f}"
            f"{r['latency_ms_p90']:>9.3f}{r['latency_ms_p99']:>9.3f}{r['batch64_images_per_sec']:>11.1f}"
            f"{r['file_megabytes']:>9.2f}{r['peak_rss_megabytes']:>9.1f}{accuracy:>9}{e2e}"
        )
    lines.append(
        "e2e: detect + classify + draw on a 640x480 frame with one face, median ms; naive: Haar 1.1/5 on the full "
        "frame, then the same classifier."
    )
    for n in sorted({r["threads"] for r in results}):
        by_backend = {r["backend"]: r for r in results if r["threads"] == n}
        if "saved_model" in by_backend:
            ratios = [
                f"{b}: {by_backend['saved_model']['latency_ms_p50'] / r['latency_ms_p50']:.1f}x"
                for b, r in by_backend.items()
                if artifact(b).kind == "tflite"
            ]
            if ratios:
                lines.append(f"SavedModel p50 / TFLite p50 at {n} thread(s): " + ", ".join(ratios))
    return "\n".join(lines)


def compare_results(results: list[dict], against: list[dict]) -> list[dict]:
    """Per (backend, threads) measured for both exports: this export's figure over the other's, as ratios.

    Args:
        results: ``run_bench``'s rows of the export measured.
        against: ``run_bench``'s rows of the export it is compared with, measured in the same run.

    Returns:
        ``backend``, ``threads``, ``latency_ratio`` (batch-1 p50), ``throughput_ratio`` (batch-64 images/s) and
        ``e2e_ratio`` (the 640x480 frame's p50; None without end-to-end frames): above 1, this export is slower
        (or, for throughput, faster).
    """
    other = {(r["backend"], r["threads"]): r for r in against}
    rows = []
    for r in results:
        o = other.get((r["backend"], r["threads"]))
        if o is None:
            continue
        e2e = r["e2e_ms_p50"] / o["e2e_ms_p50"] if r["e2e_ms_p50"] and o["e2e_ms_p50"] else None
        rows.append({
            "backend": r["backend"],
            "threads": r["threads"],
            "latency_ratio": round(r["latency_ms_p50"] / o["latency_ms_p50"], 3),
            "throughput_ratio": round(r["batch64_images_per_sec"] / o["batch64_images_per_sec"], 3),
            "e2e_ratio": round(e2e, 3) if e2e is not None else None,
        })  # fmt: skip
    return rows


def format_comparison(rows: list[dict], artifacts: str, against: str) -> str:
    """The printed ratios of ``compare_results``: this export over the one it is compared with."""
    header = f"{'backend':<24}{'thr':>4}{'p50 ratio':>11}{'b64 ratio':>11}{'e2e ratio':>11}"
    lines = [f"{artifacts} against {against}, same run (ratio = this / that):", header, "-" * len(header)]
    for r in rows:
        e2e = f"{r['e2e_ratio']:>11.3f}" if r["e2e_ratio"] is not None else f"{'-':>11}"
        lines.append(
            f"{r['backend']:<24}{r['threads']:>4}{r['latency_ratio']:>11.3f}{r['throughput_ratio']:>11.3f}{e2e}"
        )
    return "\n".join(lines)


def plot_results(results: list[dict], out_png: str | Path) -> Path:
    """Bar charts of batch-1 p50 latency and batch-64 throughput per backend and thread count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(dict.fromkeys(r["backend"] for r in results))
    thread_counts = sorted({r["threads"] for r in results})
    width = 0.8 / len(thread_counts)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, key, label in (
        (axes[0], "latency_ms_p50", "batch-1 latency p50 (ms, log)"),
        (axes[1], "batch64_images_per_sec", "batch-64 throughput (images/s, log)"),
    ):
        for j, n in enumerate(thread_counts):
            values = [next((r[key] for r in results if r["backend"] == b and r["threads"] == n), 0) for b in backends]
            ax.bar(np.arange(len(backends)) + j * width, values, width, label=f"{n} thread(s)")
        ax.set_xticks(
            np.arange(len(backends)) + width * (len(thread_counts) - 1) / 2, backends, rotation=30, ha="right"
        )
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return Path(out_png)


def load_bench_inputs(
    data: str | None,
    split: str,
    limit: int,
    data_dir: str | None = None,
    seed: int = 0,
    skip_bad_rows: bool = False,
    labels: str = DEFAULT_LABEL_MODE,
    ferplus: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(faces, labels): up to ``limit`` real faces of ``split`` with labels, or random faces and None.

    Args:
        data: FER2013 (see ``load_fer2013``); None: 256 random faces drawn with ``seed``, without labels.
        split: The split of ``data``.
        limit: The most faces taken.
        data_dir, skip_bad_rows: As for ``load_fer2013``.
        seed: Seed of the random faces.
        labels: The label mode of the labels (``load_fer2013``'s): the one the measured model was trained on.
        ferplus: The FER+ vote file of a FER+ mode (None: found beside the FER2013 CSV).

    Returns:
        uint8 (N, 48, 48, 1) faces and (N,) labels (indices into ``labels``' classes), or None for random faces.

    Raises:
        KeyError: if the data lack ``split``.
        MissingDataError, MissingFerPlusError, FerPlusError: from the dataset.
    """
    if data:
        from pipeline.fer2013_dataset import load_fer2013
        from pipeline.input_pipeline import dataset_to_arrays

        fer = load_fer2013(data, data_dir, skip_bad_rows, labels, ferplus)
        return dataset_to_arrays(fer.split(split).take(limit))
    return np.random.default_rng(seed).integers(0, 256, (256, *FACE_SHAPE), dtype=np.uint8), None


def _peak_rss_megabytes() -> float:
    # VmHWM belongs to this program's address space; ru_maxrss would also count
    # what the parent process held when it forked this one.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _project_root() -> str:
    return str(Path(__file__).resolve().parents[2])
