"""What the recognizer gives: each face's box, emotion and probabilities (``FaceResult``), an image's faces and
timings (``Analysis``), and an image's faces found but not yet classified (``FoundFaces``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from serving_demo.detectors import Detection

NO_FACE_MESSAGE = "No face found. Try a well-lit, frontal face that fills more of the picture."


@dataclass
class FaceResult:
    """One face: ``box`` (x, y, w, h) in image pixels, the top ``emotion``, its ``confidence`` and the probability of
    every class of the export, by name in ``labels.txt`` order; ``track_id``, the face's id in a tracked stream
    (``EmotionRecognizer.stream``; None elsewhere)."""

    box: tuple[int, int, int, int]
    emotion: str
    confidence: float
    probabilities: dict[str, float]
    track_id: int | None = None

    def to_dict(self) -> dict:
        """JSON-ready form: ``box``, ``emotion``, ``confidence``, ``probabilities`` and, in a tracked stream only,
        ``track_id`` (so that untracked results read exactly as before tracking existed)."""
        data = {
            "box": tuple(self.box),
            "emotion": self.emotion,
            "confidence": self.confidence,
            "probabilities": dict(self.probabilities),
        }  # what dataclasses.asdict gives, at a tenth of its cost (a video writes one per face and frame)
        if self.track_id is not None:
            data["track_id"] = self.track_id
        return data


@dataclass
class Analysis:
    """The faces found in one image and what finding and classifying them cost."""

    faces: list[FaceResult]
    backend: str
    detector: str
    image_size: tuple[int, int]  # width, height
    detect_ms: float
    classify_ms: float
    message: str = ""
    image: np.ndarray | None = field(default=None, repr=False)  # the decoded RGB image, for drawing

    @property
    def total_ms(self) -> float:
        return self.detect_ms + self.classify_ms

    def to_dict(self) -> dict:
        """JSON-ready form (what the HTTP API returns), without the image."""
        return {
            "faces": [f.to_dict() for f in self.faces],
            "backend": self.backend,
            "detector": self.detector,
            "image_size": list(self.image_size),
            "detect_ms": round(self.detect_ms, 3),
            "classify_ms": round(self.classify_ms, 3),
            "total_ms": round(self.total_ms, 3),
            "message": self.message,
        }


@dataclass
class FoundFaces:
    """The faces of one image before classification: the decoded image, detections and 48x48 crops.

    ``reused`` marks, per detection, the faces of a tracked stream that keep their track's latest probabilities
    (``tracking.ClassifySchedule``): they are not cut out, so ``crops`` holds the other faces' crops, in order.
    Empty: every face is cut out and classified.
    """

    image: np.ndarray
    detector: str
    detections: list[Detection]
    crops: np.ndarray  # (N, 48, 48, 1) uint8: the faces to classify
    detect_ms: float
    crop_ms: float
    reused: list[bool] = field(default_factory=list)

    @property
    def classified(self) -> list[int]:
        """The indices of the detections to classify (one per row of ``crops``)."""
        return [i for i in range(len(self.detections)) if not (self.reused and self.reused[i])]

    def analysis(self, faces: list[FaceResult], backend: str, classify_ms: float) -> Analysis:
        """The ``Analysis`` of this image once its faces are classified."""
        return Analysis(
            faces=faces,
            backend=backend,
            detector=self.detector,
            image_size=(self.image.shape[1], self.image.shape[0]),
            detect_ms=self.detect_ms,
            classify_ms=classify_ms,
            message="" if faces else NO_FACE_MESSAGE,
            image=self.image,
        )


def face_results(
    boxes: list[tuple[int, int, int, int]],
    probs: np.ndarray,
    class_names: Sequence[str],
    track_ids: Sequence[int | None] | None = None,
) -> list[FaceResult]:
    """``FaceResult``s of face boxes and their class probabilities: the top class and all of them.

    Args:
        boxes: (x, y, w, h) of each face, in image pixels.
        probs: (N, K) probabilities, one row per box, in ``class_names`` order.
        class_names: The K class names of the export.
        track_ids: The track id of each box in a tracked stream (default: none).

    Returns:
        One ``FaceResult`` per box, in order.
    """
    results = []
    track_ids = track_ids if track_ids is not None else [None] * len(boxes)
    for box, p, track_id in zip(boxes, probs, track_ids):
        top = int(np.argmax(p))
        results.append(
            FaceResult(
                box=tuple(int(v) for v in box),
                emotion=class_names[top],
                confidence=float(p[top]),
                probabilities={c: float(v) for c, v in zip(class_names, p)},
                track_id=track_id,
            )
        )
    return results


def with_reused(found: FoundFaces, probs: np.ndarray, latest: dict[int, np.ndarray]) -> np.ndarray:
    """The probabilities of every face of ``found``: its classified faces' rows of ``probs``, in order, and for the
    reused ones their track's latest; ``latest`` takes the classified faces' rows by track id."""
    rows = iter(probs)
    out = []
    for index, detection in enumerate(found.detections):
        track_id = getattr(detection, "track_id", None)
        if found.reused and found.reused[index]:
            out.append(latest[track_id])
        else:
            row = next(rows)
            if track_id is not None:
                latest[track_id] = row
            out.append(row)
    return np.array(out).reshape(len(out), probs.shape[-1]) if out else probs
