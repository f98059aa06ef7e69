"""``fer-bench``: compare Keras, SavedModel and the TFLite variants on the same faces.

    fer-bench --data ../shared/data/fer2013 --json bench.json --plot bench.png

For each backend and thread count, in a fresh process (thread pools and peak
memory are per process): load time; batch-1 latency p50/p90/p99 over
``--iterations`` calls after ``--warmup`` calls; batch-64 throughput; file size;
peak resident memory; and accuracy on ``--split`` when ``--data`` is given.
Every backend gets the same inputs. Prints a table and writes JSON and a bar chart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from export.layout import VARIANTS, tflite_filename

BACKENDS = ("keras_call", "keras_predict_on_batch", "saved_model") + tuple(f"tflite_{v}" for v in VARIANTS)
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
# The recognizer backend that runs the same artifact as a bench backend (keras_call has none:
# the recognizer never runs Keras eagerly).
RECOGNIZER_BACKENDS = {
    "keras_predict_on_batch": "keras",
    "saved_model": "saved_model",
    "tflite_float32": "tflite-fp32",
    "tflite_float16": "tflite-fp16",
    "tflite_dynamic": "tflite-dynamic",
    "tflite_int8": "tflite-int8",
}
E2E_FRAME_IMAGE = Path(__file__).resolve().parents[1] / "serving_demo" / "examples" / "astronaut.jpg"


def artifact_path(artifacts: Path, backend: str) -> Path:
    """The file or directory a backend runs from."""
    if backend.startswith("keras"):
        return artifacts / "model.keras"
    if backend == "saved_model":
        return artifacts / "saved_model"
    return artifacts / tflite_filename(backend.removeprefix("tflite_"))


def _size_megabytes(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1e6, 3)


def _load_backend(artifacts: Path, backend: str, threads: int):
    """(predict function for uint8 faces, object kept alive) for ``backend``, with ``threads`` CPU threads."""
    path = artifact_path(artifacts, backend)
    if backend.startswith("tflite"):
        from export.predictors import TFLitePredictor

        predictor = TFLitePredictor(path, num_threads=threads)
        return predictor.predict, predictor
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    if backend == "saved_model":
        from export.predictors import SavedModelPredictor

        predictor = SavedModelPredictor(path)
        return predictor.predict, predictor
    from model_zoo import load_model

    model = load_model(path)
    if backend == "keras_call":
        return (lambda x: np.asarray(model(x, training=False))), model
    return (lambda x: np.asarray(model.predict_on_batch(x))), model


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
    predict, _keep = _load_backend(artifacts, backend, threads)
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

    from serving_demo.image_io import load_image

    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:576] = cv2.resize(load_image(E2E_FRAME_IMAGE), (512, 480), interpolation=cv2.INTER_AREA)
    return frame


def measure_end_to_end(artifacts: Path, backend: str, threads: int, frame: np.ndarray, iterations: int) -> dict:
    """Detect + classify + draw on ``frame``: the recognizer's pipeline against the naive one, same backend.

    The naive way is what the ``fer`` package and most tutorials do: Haar with scale factor 1.1
    and 5 neighbours on the full frame, then the classifier.
    """
    import cv2

    from serving_demo.drawing import draw_faces
    from serving_demo.face_detector import FaceDetector
    from serving_demo.recognizer import EmotionRecognizer

    cv2.setNumThreads(threads)
    recognizer = EmotionRecognizer(artifacts, backend=RECOGNIZER_BACKENDS[backend], num_threads=threads)
    naive = FaceDetector(scale_factor=1.1, min_neighbors=5, min_size=0, detect_width=None)
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

    Returns:
        One dict per pair with the fields of ``RESULT_FIELDS``.

    Raises:
        FileNotFoundError: if an artifact is missing.
        RuntimeError: if a measurement process fails (its error output is included).
    """
    artifacts = Path(artifacts)
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
                command = [sys.executable, "-m", "export.bench", "--worker", backend, "--threads", str(n),
                           "--inputs", str(inputs), "--artifacts", str(artifacts), "--iterations", str(iterations),
                           "--warmup", str(warmup), "--batch-runs", str(batch_runs),
                           "--e2e-iterations", str(e2e_iterations)]  # fmt: skip
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
                if b.startswith("tflite")
            ]
            if ratios:
                lines.append(f"SavedModel p50 / TFLite p50 at {n} thread(s): " + ", ".join(ratios))
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


def load_bench_inputs(data: str | None, split: str, limit: int, data_dir: str | None = None, seed: int = 0):
    """(faces, labels): up to ``limit`` real faces of ``split`` with labels, or random faces and None."""
    if data:
        from pipeline.fer2013_dataset import load_fer2013
        from pipeline.input_pipeline import dataset_to_arrays

        return dataset_to_arrays(load_fer2013(data, data_dir).split(split).take(limit))
    return np.random.default_rng(seed).integers(0, 256, (256, 48, 48, 1), dtype=np.uint8), None


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
    return str(Path(__file__).resolve().parents[1])


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-bench``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="fer-bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artifacts", help="a fer-export output directory (default: the shipped pretrained model)")
    parser.add_argument("--data", help="FER2013 data: measure accuracy and use real faces as inputs")
    parser.add_argument("--data-dir", help="prepared-dataset cache")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--limit", type=int, default=100_000, help="at most this many faces for accuracy")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--iterations", type=int, default=300, help="timed batch-1 calls (after warm-up)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--batch-runs", type=int, default=20, help="timed batch-64 calls")
    parser.add_argument(
        "--e2e-iterations",
        type=int,
        default=50,
        help="timed end-to-end 640x480 frames (detect + classify + draw), per backend; 0 skips them",
    )
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--plot", help="write a bar chart PNG here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: measure one backend in this process
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        inputs = np.load(args.inputs)
        labels = inputs["labels"] if "labels" in inputs else None
        result = measure_backend(
            Path(args.artifacts),
            args.worker,
            args.threads[0],
            inputs["faces"],
            labels,
            args.iterations,
            args.warmup,
            args.batch_runs,
        )
        if args.e2e_iterations and args.worker in RECOGNIZER_BACKENDS:
            result |= measure_end_to_end(
                Path(args.artifacts), args.worker, args.threads[0], inputs["frame"], args.e2e_iterations
            )
        print(json.dumps(result))
        return 0
    try:
        if not args.artifacts:
            # Imported here: the model_zoo package pulls in TensorFlow, which must stay out of
            # the TFLite workers (their peak memory is measured).
            from model_zoo.pretrained import pretrained_artifacts_dir

            args.artifacts = str(pretrained_artifacts_dir())
        faces, labels = load_bench_inputs(args.data, args.split, args.limit, args.data_dir)
        results = run_bench(
            args.artifacts,
            faces,
            labels,
            tuple(args.backends),
            tuple(args.threads),
            args.iterations,
            args.warmup,
            args.batch_runs,
            args.e2e_iterations,
        )
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as e:
        print(f"fer-bench: error: {e}", file=sys.stderr)
        return 2
    print(format_table(results))
    record = {
        "artifacts": str(args.artifacts),
        "data": args.data,
        "split": args.split if args.data else None,
        "faces": int(len(faces)),
        "cpu_count": os.cpu_count(),
        "results": results,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2))
        print(f"wrote {args.json}")
    if args.plot:
        plot_results(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
