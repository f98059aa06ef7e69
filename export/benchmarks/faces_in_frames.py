"""The "faces in frames" benchmark: real FER2013 faces pasted into 640x480 scenes, with ground truth.

Face detectors are judged on what the classifier needs: FER2013 faces (48x48, gray, framed from forehead to chin)
pasted at a random size (90-220 px), position, small rotation and brightness into natural scenes without people
(scikit-image's sample images, shipped in its wheel). The ground truth of each face is the square it was pasted
into. Per detector: recall, false boxes per frame, accuracy on the faces found, end-to-end accuracy (of all faces,
the share found and given the right emotion) against the accuracy on the same faces given directly, detection time,
and the frame's end-to-end time (detect + classify + draw). The same frames calibrate each detector's crop
framing (``measure_framing``) when they are made from training faces without rotation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

FRAME_SIZE = (640, 480)  # width, height
# scikit-image sample images with no person in them (astronaut, camera and lfw_subset have faces).
SCENES = (
    "brick", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
    "immunohistochemistry", "moon", "page", "retina", "rocket", "text",
)  # fmt: skip


@dataclass
class FacesInFrames:
    """Frames with pasted faces: per frame, the true boxes (x, y, w, h) and the faces' indices into ``faces``."""

    frames: list[np.ndarray] = field(default_factory=list)
    boxes: list[list[tuple[int, int, int, int]]] = field(default_factory=list)
    face_ids: list[list[int]] = field(default_factory=list)
    pastes: list[list[tuple[float, float]]] = field(default_factory=list)  # per face: (rotation in degrees, gain)
    faces: np.ndarray | None = None  # (N, 48, 48, 1) the faces as FER2013 has them
    labels: np.ndarray | None = None  # (N,)

    @property
    def num_faces(self) -> int:
        return sum(len(b) for b in self.boxes)


def load_scenes() -> list[np.ndarray]:
    """The scene images of ``SCENES`` as RGB uint8 arrays (from scikit-image's own files; nothing is downloaded)."""
    from skimage import data

    scenes = []
    for name in SCENES:
        image = np.asarray(getattr(data, name)())
        if image.dtype != np.uint8:
            image = (image > 0).astype(np.uint8) * 255 if image.dtype == bool else image.astype(np.uint8)
        scenes.append(cv2.cvtColor(image, cv2.COLOR_GRAY2RGB) if image.ndim == 2 else image[..., :3])
    return scenes


def _scene_frame(scene: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    width, height = FRAME_SIZE
    scale = max(width / scene.shape[1], height / scene.shape[0]) * rng.uniform(1.0, 1.5)
    resized = cv2.resize(scene, (max(width, round(scene.shape[1] * scale)), max(height, round(scene.shape[0] * scale))))
    x = rng.integers(0, resized.shape[1] - width + 1)
    y = rng.integers(0, resized.shape[0] - height + 1)
    return np.ascontiguousarray(resized[y : y + height, x : x + width])


def _paste(frame: np.ndarray, face: np.ndarray, box: tuple[int, int, int, int], angle: float, gain: float) -> None:
    """Paste a gray face into ``box`` of ``frame`` (in place), turned by ``angle`` degrees about the box centre."""
    x, y, side, _ = box
    size = face.shape[0]
    patch = np.clip(face.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, side / size)
    matrix[:, 2] += (x + side / 2 - size / 2, y + side / 2 - size / 2)
    height, width = frame.shape[:2]
    warped = cv2.warpAffine(patch, matrix, (width, height), flags=cv2.INTER_CUBIC)
    mask = cv2.warpAffine(np.ones_like(patch), matrix, (width, height), flags=cv2.INTER_NEAREST).astype(bool)
    frame[mask] = warped[mask][:, None]


def make_faces_in_frames(
    faces: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    size_range: tuple[int, int] = (90, 220),
    max_rotation: float = 10.0,
    brightness: tuple[float, float] = (0.7, 1.3),
    max_faces_per_frame: int = 2,
) -> FacesInFrames:
    """Paste every face of ``faces`` once into 640x480 scene frames, one to ``max_faces_per_frame`` per frame.

    Args:
        faces: (N, 48, 48, 1) or (N, 48, 48) uint8 faces.
        labels: (N,) their classes.
        seed: Seeds every random choice: the same arguments give the same frames.
        size_range: Smallest and largest side of a pasted face, in pixels.
        max_rotation: Faces are turned by up to this many degrees either way.
        brightness: Range of the gain applied to a face's pixels.
        max_faces_per_frame: Faces in one frame never overlap.

    Returns:
        A ``FacesInFrames``.
    """
    rng = np.random.default_rng(seed)
    scenes = load_scenes()
    faces = faces.reshape(len(faces), faces.shape[1], faces.shape[2])
    result = FacesInFrames(faces=faces[..., None], labels=np.asarray(labels))
    width, height = FRAME_SIZE
    next_face = 0
    while next_face < len(faces):
        frame = _scene_frame(scenes[rng.integers(len(scenes))], rng)
        boxes: list[tuple[int, int, int, int]] = []
        ids: list[int] = []
        pastes: list[tuple[float, float]] = []
        for _ in range(min(rng.integers(1, max_faces_per_frame + 1), len(faces) - next_face)):
            side = int(rng.integers(size_range[0], size_range[1] + 1))
            for _attempt in range(50):  # a free place; a frame that has none gets fewer faces
                x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
                if all(x + side <= bx or bx + bs <= x or y + side <= by or by + bs <= y for bx, by, bs, _ in boxes):
                    break
            else:
                break
            angle, gain = rng.uniform(-max_rotation, max_rotation), rng.uniform(*brightness)
            _paste(frame, faces[next_face], (x, y, side, side), angle, gain)
            pastes.append((float(angle), float(gain)))
            boxes.append((x, y, side, side))
            ids.append(next_face)
            next_face += 1
        result.frames.append(frame)
        result.boxes.append(boxes)
        result.face_ids.append(ids)
        result.pastes.append(pastes)
    return result


def match_boxes(
    found: list[tuple[int, int, int, int]], truth: list[tuple[int, int, int, int]]
) -> list[tuple[int, int]]:
    """Pairs (found index, truth index): a found box matches a true face when its centre lies inside the true
    square and its size is 0.4-1.6 times the square's (detectors frame a face tighter or looser than FER2013
    does, so overlap alone would judge the framing, not the finding). Each is used once, nearest centres first.
    """
    candidates = []
    for i, (x, y, w, h) in enumerate(found):
        cx, cy = x + w / 2, y + h / 2
        for j, (tx, ty, tw, th) in enumerate(truth):
            ratio = np.sqrt(w * h / (tw * th))
            if tx <= cx <= tx + tw and ty <= cy <= ty + th and 0.4 <= ratio <= 1.6:
                candidates.append((np.hypot(cx - tx - tw / 2, cy - ty - th / 2), i, j))
    pairs, used_found, used_truth = [], set(), set()
    for _, i, j in sorted(candidates):
        if i not in used_found and j not in used_truth:
            pairs.append((i, j))
            used_found.add(i)
            used_truth.add(j)
    return pairs


def score_detector(data: FacesInFrames, recognizer, detector, backend: str | None = None, warmup: int = 3) -> dict:
    """Run the recognizer with ``detector`` over every frame and score it against the ground truth.

    Args:
        data: The frames (``make_faces_in_frames``).
        recognizer: An ``EmotionRecognizer``.
        detector: A detector name or object.
        backend: The classifier backend (default: the recognizer's).
        warmup: Frames analysed first, untimed.

    Returns:
        ``detector``, ``frames``, ``faces``, ``recall``, ``false_boxes_per_frame``, ``accuracy_on_found``,
        ``e2e_accuracy``, ``detect_ms_p50``, ``frame_ms_p50`` (detect + classify + draw, decode excluded) and
        ``found``: per face, in the order of the frames' boxes, whether it was found (``detector_misses`` reads it).
    """
    from serving_demo.drawing import draw_faces

    for frame in data.frames[:warmup]:
        recognizer.analyze(frame, backend=backend, detector=detector)
    found = right = false_boxes = 0
    detect_ms, frame_ms = [], []
    found_faces: list[bool] = []
    name = None
    for frame, truth, ids in zip(data.frames, data.boxes, data.face_ids):
        start = time.perf_counter()
        analysis = recognizer.analyze(frame, backend=backend, detector=detector)
        draw_faces(analysis.image, analysis.faces)
        frame_ms.append((time.perf_counter() - start) * 1000)
        detect_ms.append(analysis.detect_ms)
        name = analysis.detector
        pairs = match_boxes([f.box for f in analysis.faces], truth)
        found += len(pairs)
        matched = {j for _, j in pairs}
        found_faces += [j in matched for j in range(len(truth))]
        false_boxes += len(analysis.faces) - len(pairs)
        for i, j in pairs:
            right += recognizer.class_names.index(analysis.faces[i].emotion) == int(data.labels[ids[j]])
    return {
        "detector": name,
        "frames": len(data.frames),
        "faces": data.num_faces,
        "recall": round(found / data.num_faces, 4),
        "false_boxes_per_frame": round(false_boxes / len(data.frames), 4),
        "accuracy_on_found": round(right / found, 4) if found else None,
        "e2e_accuracy": round(right / data.num_faces, 4),
        "detect_ms_p50": round(float(np.median(detect_ms)), 3),
        "frame_ms_p50": round(float(np.median(frame_ms)), 3),
        "found": found_faces,
    }


def direct_accuracy(data: FacesInFrames, recognizer, backend: str | None = None) -> float:
    """The classifier's accuracy on the same faces given directly (48x48, as FER2013 has them)."""
    probs = recognizer.classify_faces(data.faces, backend)
    return round(float(np.mean(np.argmax(probs, axis=1) == data.labels)), 4)


def measure_framing(data: FacesInFrames, detector) -> list[dict]:
    """Where the true (FER2013) face square lies relative to the detector's faces: medians over the faces found.

    Measured against the box and, for detectors with eye and mouth keypoints, against those (see
    ``serving_demo.face_crops.Framing`` for both references).

    Args:
        data: Frames of faces pasted upright (``make_faces_in_frames(..., max_rotation=0)``).
        detector: A detector object (``serving_demo.detectors.make_detector``).

    Returns:
        One dict per reference: ``detector``, ``reference``, ``faces`` (how many were found and measured),
        ``dx``, ``dy``, ``scale`` (the fields of ``Framing``) and the interquartile range of each (that of the
        scale relative to its median).

    Raises:
        ValueError: if the detector found none of the faces.
    """
    from serving_demo.face_crops import Framing, crop_square

    measured: dict[str, list[tuple[float, float, float]]] = {"box": [], "eyes_mouth": []}
    for frame, truth in zip(data.frames, data.boxes):
        detections = detector.detect(frame)
        for i, j in match_boxes([d.box.as_tuple() for d in detections], truth):
            tx, ty, side, _ = truth[j]
            for reference, values in measured.items():
                # The unit framing puts the square's centre on the reference point, its side = one unit.
                cx, cy, unit = crop_square(detections[i], Framing(reference=reference))
                if reference == "eyes_mouth" and detections[i].eyes is None:
                    continue
                if reference == "box":
                    box = detections[i].box
                    values.append(((tx + side / 2 - cx) / box.w, (ty + side / 2 - cy) / box.h, side / unit))
                else:  # upright faces: the face's axes are the image's
                    values.append(((tx + side / 2 - cx) / unit, (ty + side / 2 - cy) / unit, side / unit))
    if not measured["box"]:
        raise ValueError(f"{detector.name} found none of the {data.num_faces} faces: nothing to calibrate on")
    results = []
    for reference, values in measured.items():
        if not values:
            continue
        q1, median, q3 = np.percentile(np.array(values), [25, 50, 75], axis=0)
        spread = (q3 - q1) / np.array([1.0, 1.0, median[2]])
        results.append(
            {
                "detector": detector.name,
                "reference": reference,
                "faces": len(values),
                "dx": round(float(median[0]), 3),
                "dy": round(float(median[1]), 3),
                "scale": round(float(median[2]), 3),
                "dx_iqr": round(float(spread[0]), 3),
                "dy_iqr": round(float(spread[1]), 3),
                "scale_iqr": round(float(spread[2]), 3),
            }  # fmt: skip
        )
    return results


def run_faces_in_frames(
    artifacts,
    faces: np.ndarray,
    labels: np.ndarray,
    detectors: tuple[str, ...],
    backend: str,
    seed: int = 0,
    num_threads: int = 2,
) -> dict:
    """The faces-in-frames benchmark: every detector, and the naive Haar baseline, on the same frames.

    Args:
        artifacts: A ``fer-export`` directory (its ``backend`` classifies the faces).
        faces, labels: The faces to paste (e.g. the validation split) and their classes: indices into the
            export's classes (its ``labels.txt``), as ``load_bench_inputs`` gives them with the export's label mode.
        detectors: Names of ``serving_demo.detectors.DETECTORS``; the first is the one compared with the baseline.
        backend: The classifier backend.
        seed: Seeds the frames.
        num_threads: CPU threads for the classifier and the DNN detectors.

    Returns:
        ``{"frames", "faces", "seed", "backend", "direct_accuracy", "results": [score_detector dicts],
        "detect_time_vs_haar", "frame_speedup_vs_naive"}``: the first detector's detection time as a fraction of
        the ``haar`` detector's, and the naive Haar frame time over the first detector's (same run); and
        ``recall_by_face``: the first detector's recall by the faces' size, rotation, contrast and distance to the
        frame's edge (``detector_misses.recall_by_attribute``).
    """
    from export.benchmarks.detector_misses import recall_by_attribute
    from serving_demo.detectors import make_detector
    from serving_demo.detectors.haar import naive_haar
    from serving_demo.recognizer import EmotionRecognizer

    data = make_faces_in_frames(faces, labels, seed=seed)
    recognizer = EmotionRecognizer(artifacts, backend=backend, num_threads=num_threads)
    results = [
        score_detector(data, recognizer, make_detector(name, num_threads=num_threads), backend) for name in detectors
    ]
    results.append(score_detector(data, recognizer, naive_haar(), backend))
    found = [result.pop("found") for result in results]
    by_name = {r["detector"]: r for r in results}
    first = by_name[detectors[0]]
    return {
        "frames": len(data.frames),
        "faces": data.num_faces,
        "seed": seed,
        "backend": backend,
        "direct_accuracy": direct_accuracy(data, recognizer, backend),
        "results": results,
        "detect_time_vs_haar": round(first["detect_ms_p50"] / by_name["haar"]["detect_ms_p50"], 4)
        if "haar" in by_name
        else None,
        "frame_speedup_vs_naive": round(by_name["haar-naive"]["frame_ms_p50"] / first["frame_ms_p50"], 2),
        "recall_by_face": recall_by_attribute(data, found[0]),  # where the first detector's misses gather
    }


def format_faces_in_frames(record: dict) -> str:
    """The printed faces-in-frames table."""
    header = (
        f"{'detector':<18}{'recall':>8}{'false/frame':>12}{'acc found':>10}{'e2e acc':>9}"
        f"{'detect ms':>11}{'frame ms':>10}"
    )
    lines = [
        f"faces in frames: {record['faces']} faces in {record['frames']} 640x480 frames (seed {record['seed']}), "
        f"classifier {record['backend']}; the same faces given directly: accuracy {record['direct_accuracy']:.4f}",
        header,
        "-" * len(header),
    ]
    for r in record["results"]:
        found = f"{r['accuracy_on_found']:.4f}" if r["accuracy_on_found"] is not None else "-"
        lines.append(
            f"{r['detector']:<18}{r['recall']:>8.4f}{r['false_boxes_per_frame']:>12.3f}{found:>10}"
            f"{r['e2e_accuracy']:>9.4f}{r['detect_ms_p50']:>11.2f}{r['frame_ms_p50']:>10.2f}"
        )
    first = record["results"][0]["detector"]
    if record["detect_time_vs_haar"] is not None:
        lines.append(f"{first} detection time / haar detection time: {record['detect_time_vs_haar']:.3f}")
    lines.append(
        f"frame (detect + classify + draw) naive Haar / {first}: {record['frame_speedup_vs_naive']:.1f}x "
        "(naive: Haar 1.1/5 on the full frame)"
    )
    if record.get("recall_by_face"):
        from export.benchmarks.detector_misses import format_recall_by_attribute

        lines.append(format_recall_by_attribute(first, record["recall_by_face"]))
    return "\n".join(lines)


def calibrate_framing(faces: np.ndarray, labels: np.ndarray, detectors: tuple[str, ...], seed: int = 0) -> list[dict]:
    """Where each detector's box lies in FER2013's face frame: ``measure_framing`` for each of ``detectors`` on
    ``faces`` pasted upright and unlit into scenes (the numbers behind ``serving_demo.face_crops.FRAMINGS``).

    Raises:
        ValueError: on an unknown detector.
    """
    from serving_demo.detectors import make_detector

    data = make_faces_in_frames(faces, labels, seed=seed, max_rotation=0.0, brightness=(1.0, 1.0))
    return [row for name in detectors for row in measure_framing(data, make_detector(name))]


def format_framing(rows: list[dict]) -> str:
    """``calibrate_framing``'s rows as a text table."""
    lines = [
        f"{'detector':<18}{'reference':<12}{'faces':>6}{'dx':>8}{'dy':>8}{'scale':>8}"
        f"{'dx iqr':>8}{'dy iqr':>8}{'scale iqr':>10}"
    ]
    lines += [
        f"{r['detector']:<18}{r['reference']:<12}{r['faces']:>6}{r['dx']:>8.3f}{r['dy']:>8.3f}{r['scale']:>8.3f}"
        f"{r['dx_iqr']:>8.3f}{r['dy_iqr']:>8.3f}{r['scale_iqr']:>10.3f}"
        for r in rows
    ]
    lines.append("Framing(dx, dy, scale, reference) in serving_demo/face_crops.py FRAMINGS takes these medians.")
    return "\n".join(lines)
