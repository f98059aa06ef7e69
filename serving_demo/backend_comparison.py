"""Every backend of an export on the same photo: the classifier's latency, the file's size, and agreement.

``compare_backends(recognizer, image)`` finds the faces once (``EmotionRecognizer.find_faces``), then, for every
backend whose file the export has, classifies the same crops in one batch, as the demo does: one untimed warm-up call
(the first call of a backend allocates and traces, and gives the probabilities), then ``repeats`` timed calls, of
which the median is the latency. Each call goes through ``EmotionRecognizer.classify_faces``, so under the
recognizer's lock of that backend, one call at a time: requests of the demo's other users run between the calls,
and what is timed is what the demo's readout calls "classify". Each backend's top emotion per face is compared with
the float reference's: ``keras`` if it runs, else the first float backend of the artifact table that does
(``saved_model``, then ``tflite-fp32``). ``comparison_chart`` draws latency and size as bars coloured by agreement
(a matplotlib figure on the Agg canvas, no display needed); the demo shows it beside the table of ``rows()``,
and its API endpoint ``compare_backends`` returns ``to_dict()`` too.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model_zoo.artifacts import SAVED_MODEL_PB, artifact, artifact_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from serving_demo.detectors import FaceDetector
    from serving_demo.recognizer import EmotionRecognizer

DEFAULT_REPEATS = 7  # timed calls per backend; odd, so the median is one of them
MAX_REPEATS = 50  # the demo's work per request stays bounded
# The float backends that can serve as the reference, in the artifact table's order of preference.
REFERENCE_PARITY = ("reference", "float")
NO_FACE_COMPARISON = (
    "No face found, so there is nothing to classify: latency and agreement need a face. "
    "Try a well-lit, frontal face that fills more of the picture."
)
TABLE_HEADERS = (
    "backend",
    "classify ms (median)",
    "size MB",
    "top emotion per face",
    "agrees with reference",
    "max |Δ probability|",
)
# The chart's colours: the reference, every face agrees, some face does not, not compared (error or no face).
COLOURS = {"reference": "#1f77b4", "agrees": "#2e7d32", "disagrees": "#d97706", "none": "#9e9e9e"}


@dataclass
class BackendResult:
    """One backend on the photo's faces.

    Attributes:
        backend: Its name in the artifact table.
        description: What it is (the table's description).
        size_bytes: The size of its file (or SavedModel directory) in the export.
        latencies_ms: Each timed call's milliseconds (all faces in one batch); empty with no face or an error.
        emotions: Its top emotion per face, in the order of the comparison's faces.
        probabilities: Its (faces, classes) probabilities; None on an error.
        agrees: Per face, whether its top emotion is the reference's; None if there is no reference or it failed.
        max_abs_diff: The largest difference of any probability from the reference's; None as ``agrees``.
        is_reference: Whether it is the reference the others are compared with.
        error: Why it could not run (empty if it ran).
    """

    backend: str
    description: str
    size_bytes: int
    latencies_ms: list[float] = field(default_factory=list)
    emotions: list[str] = field(default_factory=list)
    probabilities: np.ndarray | None = field(default=None, repr=False)
    agrees: list[bool] | None = None
    max_abs_diff: float | None = None
    is_reference: bool = False
    error: str = ""

    @property
    def latency_ms(self) -> float | None:
        """The median of the timed calls, None if there were none."""
        return statistics.median(self.latencies_ms) if self.latencies_ms else None

    @property
    def agree_count(self) -> int | None:
        """How many faces' top emotion is the reference's, None if not compared."""
        return None if self.agrees is None else sum(self.agrees)

    def to_dict(self) -> dict:
        """JSON-ready form, without the probabilities."""
        latency = self.latency_ms
        return {
            "backend": self.backend,
            "description": self.description,
            "size_bytes": self.size_bytes,
            "latency_ms": None if latency is None else round(latency, 4),
            "latencies_ms": [round(t, 4) for t in self.latencies_ms],
            "emotions": list(self.emotions),
            "agrees": None if self.agrees is None else list(self.agrees),
            "agree_count": self.agree_count,
            "max_abs_diff": None if self.max_abs_diff is None else round(self.max_abs_diff, 6),
            "is_reference": self.is_reference,
            "error": self.error,
        }


@dataclass
class BackendComparison:
    """Every backend of an export on the faces of one photo (``compare_backends``).

    Attributes:
        backends: One result per backend, in the artifact table's order.
        reference: The backend the others' emotions are compared with; None if no float backend ran.
        detector: The face detector that found the faces.
        boxes: Each face's (x, y, w, h), largest first as the detector gives them.
        repeats: Timed calls per backend.
        detect_ms: What finding and cutting out the faces took, once for all backends.
        message: Why there is no latency or agreement (no face), or what else to know; empty otherwise.
    """

    backends: list[BackendResult]
    reference: str | None
    detector: str
    boxes: list[tuple[int, int, int, int]]
    repeats: int
    detect_ms: float
    message: str = ""

    @property
    def faces(self) -> int:
        """The number of faces every backend classified."""
        return len(self.boxes)

    def result(self, backend: str) -> BackendResult:
        """The result of ``backend``.

        Raises:
            KeyError: if ``backend`` was not compared.
        """
        for r in self.backends:
            if r.backend == backend:
                return r
        raise KeyError(f"{backend!r} was not compared; compared: {', '.join(r.backend for r in self.backends)}")

    def rows(self) -> list[list]:
        """The table the demo shows, one row per backend, columns as ``TABLE_HEADERS``."""
        return [
            [
                r.backend,
                None if r.latency_ms is None else round(r.latency_ms, 3),
                round(r.size_bytes / 1e6, 3),
                ", ".join(r.emotions) if r.emotions else ("—" if not r.error else ""),
                _agreement_cell(r, self.faces),
                None if r.max_abs_diff is None else float(f"{r.max_abs_diff:.2g}"),  # 2 significant digits
            ]
            for r in self.backends
        ]

    def table(self) -> dict:
        """``rows()`` with their headers: what ``gr.Dataframe`` takes."""
        return {"headers": list(TABLE_HEADERS), "data": self.rows()}

    def summary(self) -> str:
        """One Markdown paragraph saying what was compared against what."""
        found = f"{self.faces} face{'s' if self.faces != 1 else ''}" if self.faces else "no face"
        head = f"**{found}** ({self.detector}, {self.detect_ms:.1f} ms, found once for every backend)"
        if not self.faces:
            return f"{head}. {self.message}"
        reference = (
            f"Reference: **{self.reference}** ({artifact(self.reference).description}); a backend agrees on a face "
            "when its top emotion is the reference's."
            if self.reference
            else "No float backend ran, so there is no reference to compare emotions with."
        )
        text = (
            f"{head}; each backend classified the same crops in one batch, median of {self.repeats} timed calls "
            f"after one warm-up. {reference}"
        )
        return text + (f"\n\n{self.message}" if self.message else "")

    def to_dict(self) -> dict:
        """JSON-ready form: what the API returns beside the table and the chart."""
        reference = self.result(self.reference) if self.reference else None
        return {
            "detector": self.detector,
            "faces": [
                {"box": list(box), "reference_emotion": reference.emotions[i] if reference else None}
                for i, box in enumerate(self.boxes)
            ],
            "reference": self.reference,
            "repeats": self.repeats,
            "detect_ms": round(self.detect_ms, 3),
            "message": self.message,
            "backends": [r.to_dict() for r in self.backends],
        }


def artifact_size(artifacts_dir: str | Path, backend: str) -> int:
    """Bytes of ``backend``'s file in the export ``artifacts_dir``; a SavedModel counts its whole directory.

    In a pushed version the SavedModel is the version's root (``model_zoo.artifacts.artifact_path``): there only
    its own files count (``saved_model.pb``, ``fingerprint.pb``, ``variables/``, ``assets/``), not the other
    artifacts beside them.

    Raises:
        ValueError: on an unknown backend.
        FileNotFoundError: if the file is missing.
    """
    path = artifact_path(artifacts_dir, backend)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        raise FileNotFoundError(f"Backend {backend!r} needs {path}, which is missing")
    if (path / SAVED_MODEL_PB).is_file() and path == Path(artifacts_dir):
        parts = [path / name for name in (SAVED_MODEL_PB, "fingerprint.pb", "variables", "assets", "assets.extra")]
    else:
        parts = [path]
    files = [p for part in parts if part.exists() for p in ([part] if part.is_file() else part.rglob("*"))]
    return sum(p.stat().st_size for p in files if p.is_file())


def compare_backends(
    recognizer: EmotionRecognizer,
    image,
    repeats: int = DEFAULT_REPEATS,
    detector: str | FaceDetector | None = None,
    backends: list[str] | None = None,
) -> BackendComparison:
    """Run the faces of ``image`` through every backend of the recognizer's export and compare them.

    The faces are found once; every backend then classifies the same crops in one batch: one warm-up call (its
    probabilities are the backend's answer), then ``repeats`` timed calls, each under the recognizer's lock of that
    backend. A backend that cannot run (e.g. ``keras`` where TensorFlow is not installed) gets its ``error`` and
    the others go on. Agreement is per face: the backend's top emotion against the reference's, the first float
    backend that ran, in the artifact table's order (``keras``, ``keras-eager``, ``saved_model``, ``tflite-fp32``).

    Args:
        recognizer: The recognizer whose export, detectors, loaded backends and locks are used.
        image: A file path, encoded bytes, a PIL image or an RGB array (anything ``EmotionRecognizer.analyze`` takes).
        repeats: Timed calls per backend, 1 to ``MAX_REPEATS``.
        detector: The face detector (a name or object); default: the recognizer's current one.
        backends: The backends to compare, in this order; default: every backend whose file the export has.

    Returns:
        A ``BackendComparison``; with no face, every backend's size but no latency or agreement, and ``message``
        says so.

    Raises:
        ImageInputError: if ``image`` cannot be used (the message says why).
        ValueError: if ``repeats`` is out of range, or on an unknown detector or an unknown or missing backend.
    """
    if not 1 <= repeats <= MAX_REPEATS:
        raise ValueError(f"repeats must be between 1 and {MAX_REPEATS}, not {repeats}")
    names = list(backends) if backends is not None else recognizer.available_backends()
    if not names:
        raise ValueError(f"No backend to compare: {recognizer.artifacts_dir} has none of the export's files")
    try:
        sizes = {name: artifact_size(recognizer.artifacts_dir, name) for name in names}  # checks every name first
    except FileNotFoundError as e:
        raise ValueError(str(e)) from None
    found = recognizer.find_faces(image, detector=detector)
    boxes = [d.box.as_tuple() for d in found.detections]
    results = [BackendResult(name, artifact(name).description, sizes[name]) for name in names]
    if boxes:
        for result in results:
            _run_backend(recognizer, result, found.crops, repeats)
    reference = next(
        (r for r in results if r.probabilities is not None and artifact(r.backend).parity in REFERENCE_PARITY), None
    )
    if reference is not None:
        reference.is_reference = True
        for r in results:
            if r.probabilities is not None:
                r.agrees = [bool(a) for a in r.probabilities.argmax(1) == reference.probabilities.argmax(1)]
                r.max_abs_diff = float(np.abs(r.probabilities - reference.probabilities).max())
    message = "" if boxes else NO_FACE_COMPARISON
    failed = [r.backend for r in results if r.error]
    if failed:
        message = (message + " " if message else "") + f"Could not run: {', '.join(failed)} (see the table)."
    return BackendComparison(
        backends=results,
        reference=reference.backend if reference else None,
        detector=found.detector,
        boxes=boxes,
        repeats=repeats,
        detect_ms=found.detect_ms + found.crop_ms,
        message=message,
    )


def _run_backend(recognizer: EmotionRecognizer, result: BackendResult, crops: np.ndarray, repeats: int) -> None:
    """Classify ``crops`` with ``result.backend`` once untimed, then ``repeats`` times timed; fill in ``result``."""
    try:
        probabilities = recognizer.classify_faces(crops, result.backend)  # loads the backend if need be, warms it
        for _ in range(repeats):
            start = time.perf_counter()
            recognizer.classify_faces(crops, result.backend)
            result.latencies_ms.append((time.perf_counter() - start) * 1000)
    except Exception as e:  # one backend that cannot run (no TensorFlow, a broken file) must not hide the others
        result.latencies_ms.clear()
        result.error = f"{type(e).__name__}: {e}"
        return
    result.probabilities = np.asarray(probabilities, np.float32)
    result.emotions = [recognizer.class_names[int(i)] for i in result.probabilities.argmax(1)]


def _agreement_cell(result: BackendResult, faces: int) -> str:
    if result.error:
        return f"could not run: {result.error}"
    if result.agrees is None:
        return "—"
    if result.is_reference:
        return "reference"
    text = f"{result.agree_count}/{faces} face{'s' if faces != 1 else ''}"
    differing = [str(i + 1) for i, same in enumerate(result.agrees) if not same]
    return text + (f" (not face {', '.join(differing)})" if differing else "")


def _colour(result: BackendResult) -> str:
    if result.is_reference:
        return COLOURS["reference"]
    if result.agrees is None:
        return COLOURS["none"]
    return COLOURS["agrees"] if all(result.agrees) else COLOURS["disagrees"]


def comparison_chart(comparison: BackendComparison) -> Figure:
    """Bar charts of every backend's classifier latency and size, coloured by agreement with the reference.

    A ``matplotlib.figure.Figure`` on the Agg canvas, outside pyplot (no display, nothing global, safe from any
    thread): ``gr.Plot`` shows it; ``figure.savefig`` writes it; ``np.asarray(figure.canvas.buffer_rgba())`` after
    ``figure.canvas.draw()`` is its RGBA pixels. Latency is on a log scale when the backends differ tenfold or more.

    Args:
        comparison: What ``compare_backends`` returned.

    Returns:
        The figure: latency on the left, size on the right, one bar per backend, legend below.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    results = comparison.backends
    figure = Figure(figsize=(10, 1.9 + 0.42 * len(results)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    latency_ax, size_ax = figure.subplots(1, 2, sharey=True)
    y = np.arange(len(results))
    colours = [_colour(r) for r in results]
    latencies = [np.nan if r.latency_ms is None else r.latency_ms for r in results]
    measured = [t for t in latencies if not np.isnan(t)]
    if measured:
        latency_ax.barh(y, latencies, color=colours)
        if max(measured) >= 10 * min(measured):
            latency_ax.set_xscale("log")
        for yi, t in zip(y, latencies):
            if not np.isnan(t):
                latency_ax.annotate(f" {t:.3g}", (t, yi), va="center", fontsize=8)
        latency_ax.margins(x=0.25)
    else:
        latency_ax.text(
            0.5, 0.5, "no face found:\nnothing to classify", ha="center", va="center", transform=latency_ax.transAxes
        )
    faces = f"{comparison.faces} face{'s' if comparison.faces != 1 else ''}"
    latency_ax.set_xlabel(f"classify {faces}: median of {comparison.repeats} calls (ms)")
    latency_ax.set_yticks(y, [r.backend for r in results])
    latency_ax.invert_yaxis()
    sizes = [r.size_bytes / 1e6 for r in results]
    size_ax.barh(y, sizes, color=colours)
    for yi, s in zip(y, sizes):
        size_ax.annotate(f" {s:.3g}", (s, yi), va="center", fontsize=8)
    size_ax.margins(x=0.2)
    size_ax.set_xlabel("size (MB)")
    for ax in (latency_ax, size_ax):
        ax.grid(axis="x", alpha=0.3)
    reference = comparison.reference or "reference"
    legend = [
        Patch(color=COLOURS["reference"], label=f"{reference} (reference)"),
        Patch(color=COLOURS["agrees"], label="same top emotion on every face"),
        Patch(color=COLOURS["disagrees"], label="another top emotion on some face"),
        Patch(color=COLOURS["none"], label="not compared"),
    ]
    figure.legend(handles=legend, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return figure
