"""The ``fer`` package (PyPI ``fer``) beside this project's recognizer: one 640x480 frame with one face, same run.

``fer`` is never a dependency of this project: it needs TensorFlow, PyTorch (facenet-pytorch), its own OpenCV
build (opencv-contrib-python) and moviepy, and would replace the project's OpenCV. It is measured in a
subprocess of an interpreter that has it installed (``fer-bench --fer-python PATH``; by default the current
interpreter when it can import ``fer``), running ``FER_SCRIPT``. The project's own frame time is measured the
same way in a subprocess of the current interpreter (``OURS_SCRIPT``), one after the other, never side by side.

Both read the same frame (``backends.end_to_end_frame``: the example photo ``astronaut.jpg`` on a gray 640x480
background) from one PNG with ``cv2.imread`` (BGR), call their pipeline ``warmup`` times untimed, then time
``iterations`` calls and report the median:

- ``fer``: ``FER(mtcnn=False).detect_emotions(frame)``: its default face finder (OpenCV's Haar cascade on the full
  frame, scale factor 1.1, 5 neighbours, faces from 50 px) and its default bundled classifier (in fer 25.x a
  quantized TFLite model, run through TensorFlow's ``tf.lite.Interpreter``; the Keras model before);
- ours: ``EmotionRecognizer(artifacts, num_threads=threads).analyze(frame, channel_order="bgr")``: the default
  detector and default backend (detect + classify; no drawing, as ``detect_emotions`` draws nothing).

Both are pinned to the same thread count: TensorFlow's intra- and inter-op pools (``TF_NUM_INTRAOP_THREADS``,
``TF_NUM_INTEROP_THREADS`` and ``tf.config.threading``), its TFLite interpreter's ``num_threads`` (fer gives none, so
the script makes ``tf.lite.Interpreter`` default to it), OpenMP and OpenCV for ``fer``; the TFLite interpreters,
the detector, OpenMP and OpenCV (and TensorFlow's pools, should the default backend be a TensorFlow one) for ours.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FRAME = "640x480"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where `export` is importable from
#: How to get an interpreter with ``fer``, outside the project's virtualenv (it would replace its OpenCV).
INSTALL_HINT = (
    "python3.11 -m venv /tmp/fer-venv && /tmp/fer-venv/bin/pip install fer, then --fer-python /tmp/fer-venv/bin/python"
)
#: Seconds allowed to each measuring subprocess beyond its calls (imports, loading the models).
STARTUP_SECONDS = 300
#: Seconds allowed per timed or warm-up call.
SECONDS_PER_CALL = 10

# Run as `python -c FER_SCRIPT PNG ITERATIONS WARMUP THREADS` by an interpreter with `fer`; self-contained (it
# cannot import this project), prints one line of JSON last. The thread variables are set by the caller too,
# before the interpreter starts, which is when TensorFlow's pools read them.
FER_SCRIPT = r"""
import json, os, statistics, sys, time

png, iterations, warmup, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ[name] = str(threads)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
try:  # first: an interpreter without fer fails here, before anything slow
    from fer import FER
except ImportError:  # fer 25.10.3's __init__ exports nothing
    from fer.fer import FER
from importlib.metadata import version
import cv2
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
cv2.setNumThreads(threads)
if "torch" in sys.modules:
    sys.modules["torch"].set_num_threads(threads)


class PinnedInterpreter(tf.lite.Interpreter):  # fer (25.x) makes its TFLite classifier without num_threads
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("num_threads", threads)
        super().__init__(*args, **kwargs)


tf.lite.Interpreter = PinnedInterpreter
detector = FER(mtcnn=False)
frame = cv2.imread(png)
if frame is None:
    sys.exit(f"cannot read {png}")
for _ in range(warmup):
    found = detector.detect_emotions(frame)
times = []
for _ in range(iterations):
    start = time.perf_counter()
    found = detector.detect_emotions(frame)
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"ms": statistics.median(times), "faces": len(found), "version": version("fer")}))
"""

# Run as `python -c OURS_SCRIPT ARTIFACTS PNG ITERATIONS WARMUP THREADS` by this project's interpreter.
OURS_SCRIPT = (
    "import json, sys; from export.benchmarks.fer_package import measure_ours; "
    "a = sys.argv[1:]; print(json.dumps(measure_ours(a[0], a[1], int(a[2]), int(a[3]), int(a[4]))))"
)


class FerPackageUnavailable(Exception):
    """The ``fer`` row cannot be measured; the message is the one line that says why and how to get it."""


def find_fer_python(fer_python: str | None) -> str:
    """The interpreter that runs ``fer``: ``fer_python`` if given and found, else this one if it can import ``fer``.

    Args:
        fer_python: A path to a Python interpreter (or a command on ``PATH``) with ``fer`` installed, or None.

    Returns:
        The interpreter's path.

    Raises:
        FerPackageUnavailable: if ``fer_python`` does not exist, or none was given and ``fer`` is not importable here.
    """
    if fer_python:
        found = fer_python if Path(fer_python).is_file() else shutil.which(fer_python)
        if not found:
            raise FerPackageUnavailable(f"--fer-python {fer_python} does not exist; to get one: {INSTALL_HINT}")
        return found
    if importlib.util.find_spec("fer") is None:
        raise FerPackageUnavailable(f"`fer` is not installed for {sys.executable}; to measure it: {INSTALL_HINT}")
    return sys.executable


def thread_env(threads: int) -> dict[str, str]:
    """The environment variables that pin a measuring subprocess to ``threads`` threads (quiet TensorFlow too)."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def parse_last_json(stdout: str) -> dict:
    """The JSON object on the last non-empty line of a measuring subprocess's output (libraries may print first).

    Raises:
        ValueError: if there is no such line.
    """
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ValueError("printed nothing")
    try:
        record = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise ValueError(f"printed no JSON last: {lines[-1][:200]!r}") from None
    if not isinstance(record, dict):
        raise ValueError(f"printed no JSON object last: {lines[-1][:200]!r}")
    return record


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no error output"


def run_script(python: str, script: str, args: list[str], env: dict[str, str], cwd: str, timeout: float) -> dict:
    """Run ``python -c script args...`` and return the JSON object it printed last.

    Args:
        python: The interpreter.
        script: The code to run.
        args: Its arguments.
        env: Its whole environment.
        cwd: Its working directory.
        timeout: Seconds allowed.

    Returns:
        The JSON object.

    Raises:
        RuntimeError: if it cannot start, fails, runs out of time or prints no JSON (the message's last part is
            its last line of error output).
    """
    try:
        done = subprocess.run(
            [python, "-c", script, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
        )
    except OSError as e:
        raise RuntimeError(f"{python} did not start: {e}") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{python} took more than {timeout:.0f} s") from None
    if done.returncode != 0:
        raise RuntimeError(f"{python} failed (exit status {done.returncode}): {_last_line(done.stderr)}")
    try:
        return parse_last_json(done.stdout)
    except ValueError as e:
        raise RuntimeError(f"{python} {e}") from None


def measure_ours(artifacts: str | Path | None, png: str | Path, iterations: int, warmup: int, threads: int) -> dict:
    """Median ms of ``EmotionRecognizer.analyze`` on the frame in ``png`` at the recognizer's defaults, in this process.

    Args:
        artifacts: A ``fer-export`` directory (None: the shipped model).
        png: The frame.
        iterations: Timed calls.
        warmup: Untimed calls first.
        threads: Threads of the interpreters, the detector and OpenCV (and TensorFlow's pools for a TensorFlow
            default backend).

    Returns:
        ``ms`` (median of the timed calls), ``faces`` (found in the last call), ``backend`` and ``detector``.

    Raises:
        FileNotFoundError: if ``png`` or the export is missing.
    """
    import statistics
    import time

    import cv2

    from model_zoo.artifacts import DEFAULT_BACKEND, artifact
    from serving_demo.recognizer import EmotionRecognizer

    frame = cv2.imread(str(png))
    if frame is None:
        raise FileNotFoundError(f"cannot read {png}")
    cv2.setNumThreads(threads)
    if artifact(DEFAULT_BACKEND).kind != "tflite":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    recognizer = EmotionRecognizer(artifacts, num_threads=threads)
    analysis = None
    for _ in range(warmup):
        analysis = recognizer.analyze(frame, channel_order="bgr")
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        analysis = recognizer.analyze(frame, channel_order="bgr")
        times.append((time.perf_counter() - start) * 1000)
    return {
        "ms": statistics.median(times),
        "faces": len(analysis.faces) if analysis is not None else 0,
        "backend": recognizer.backend,
        "detector": recognizer.detector_name,
    }


def fer_package_record(fer: dict, ours: dict, threads: int, iterations: int, warmup: int, fer_python: str) -> dict:
    """The ``fer_package`` section of ``fer-bench``'s JSON from the two subprocesses' outputs.

    Args:
        fer: ``FER_SCRIPT``'s output: ``ms``, ``faces``, ``version``.
        ours: ``measure_ours``' output: ``ms``, ``faces``, ``backend``, ``detector``.
        threads, iterations, warmup: What both ran with.
        fer_python: The interpreter that ran ``fer``.

    Returns:
        ``frame``, ``fer_ms``, ``ours_ms``, ``speedup`` (``fer_ms / ours_ms``), ``fer_version``, ``faces``
        (``fer`` and ``ours``), ``threads``, ``iterations``, ``warmup``, ``ours_backend``, ``ours_detector``,
        ``fer_python``.

    Raises:
        ValueError: if a time is missing or not positive.
    """
    fer_ms, ours_ms = float(fer["ms"]), float(ours["ms"])
    if fer_ms <= 0 or ours_ms <= 0:
        raise ValueError(f"frame times must be positive, got fer {fer_ms} ms and ours {ours_ms} ms")
    return {
        "frame": FRAME,
        "fer_ms": round(fer_ms, 2),
        "ours_ms": round(ours_ms, 2),
        "speedup": round(fer_ms / ours_ms, 2),
        "fer_version": fer.get("version"),
        "faces": {"fer": int(fer["faces"]), "ours": int(ours["faces"])},
        "threads": threads,
        "iterations": iterations,
        "warmup": warmup,
        "ours_backend": ours.get("backend"),
        "ours_detector": ours.get("detector"),
        "fer_python": fer_python,
    }


def run_fer_package(
    artifacts: str | Path | None, fer_python: str | None, iterations: int, warmup: int = 3, threads: int = 2
) -> dict:
    """Measure ``fer``'s ``detect_emotions`` and our recognizer on the same 640x480 one-face frame, one after the other.

    Args:
        artifacts: The export our recognizer loads (None: the shipped model).
        fer_python: An interpreter with ``fer`` (None: this one, if it has ``fer``; see ``find_fer_python``).
        iterations: Timed calls of each.
        warmup: Untimed calls of each first.
        threads: The thread count both are pinned to.

    Returns:
        ``fer_package_record``'s dict.

    Raises:
        FerPackageUnavailable: if there is no interpreter with ``fer``, or it fails to measure (the row is left out).
        ValueError: if ``iterations`` or ``threads`` is below 1 or ``warmup`` below 0.
        RuntimeError: if measuring our recognizer fails.
    """
    import cv2

    from export.benchmarks.backends import end_to_end_frame

    if iterations < 1 or threads < 1 or warmup < 0:
        raise ValueError("the fer package row needs at least 1 timed call and 1 thread, and no negative warm-up")
    python = find_fer_python(fer_python)
    timeout = STARTUP_SECONDS + SECONDS_PER_CALL * (iterations + warmup)
    counts = [str(iterations), str(warmup), str(threads)]
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "frame_640x480.png"
        cv2.imwrite(str(png), cv2.cvtColor(end_to_end_frame(), cv2.COLOR_RGB2BGR))
        # fer's interpreter gets none of this project's import paths, and runs outside the repository.
        fer_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | thread_env(threads)
        try:
            fer = run_script(python, FER_SCRIPT, [str(png), *counts], fer_env, tmp, timeout)
        except RuntimeError as e:
            raise FerPackageUnavailable(f"measuring `fer` failed: {e}; to get it: {INSTALL_HINT}") from None
        ours_env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)} | thread_env(threads)
        ours = run_script(
            sys.executable, OURS_SCRIPT, [str(artifacts or ""), str(png), *counts], ours_env, tmp, timeout
        )
    try:
        return fer_package_record(fer, ours, threads, iterations, warmup, python)
    except (KeyError, TypeError, ValueError) as e:
        raise FerPackageUnavailable(f"`fer`'s measurement was not understood: {e!r}") from None


def format_fer_package(record: dict) -> str:
    """The side-by-side rows of ``fer`` and our recognizer, the ratio and what both ran with."""
    header = f"{'640x480 frame, one face':<58}{'ms p50':>9}{'faces':>7}"
    ours = f"ours: EmotionRecognizer().analyze ({record['ours_backend']}, {record['ours_detector']})"
    lines = [
        header,
        "-" * len(header),
        f"{'fer ' + str(record['fer_version']) + ': FER(mtcnn=False).detect_emotions':<58}"
        f"{record['fer_ms']:>9.2f}{record['faces']['fer']:>7}",
        f"{ours:<58}{record['ours_ms']:>9.2f}{record['faces']['ours']:>7}",
        f"ours is {record['speedup']:.1f}x as fast as fer's detect_emotions (median of {record['iterations']} calls "
        f"after {record['warmup']} warm-up, one process after the other)",
        f"threads: both pinned to {record['threads']} (fer: TensorFlow intra/inter-op, its TFLite interpreter, OpenMP, "
        "OpenCV; ours: TFLite interpreters, detector, OpenMP, OpenCV)",
    ]
    if record["faces"]["fer"] != record["faces"]["ours"]:
        lines.append(f"note: fer found {record['faces']['fer']} face(s), ours {record['faces']['ours']}")
    return "\n".join(lines)
