"""What every face detector returns: boxes in the original image's pixels, a score, keypoints if the model has them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Box:
    """A face box in pixels of the original image: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h

    @property
    def area(self) -> int:
        return self.w * self.h


@dataclass(frozen=True)
class Detection:
    """One face found by a detector.

    ``box`` is in pixels of the image given to ``detect``; ``score`` is the detector's confidence in
    [0, 1] (1.0 for detectors without one, such as Haar); ``keypoints`` maps names (``right_eye``,
    ``left_eye``, ... as the person sees them, so ``right_eye`` is on the image's left) to (x, y) pixels,
    empty where the model gives none.
    """

    box: Box
    score: float = 1.0
    keypoints: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """(right eye, left eye) centres, or None if the detector gives no eye keypoints."""
        if "right_eye" in self.keypoints and "left_eye" in self.keypoints:
            return self.keypoints["right_eye"], self.keypoints["left_eye"]
        return None


class FaceDetector(Protocol):
    """Finds faces in an RGB (H, W, 3) or gray (H, W) uint8 image.

    ``name`` is the detector's name in ``serving_demo.detectors.DETECTORS``; ``detect`` returns the faces
    largest first, boxes clipped to the image.
    """

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def clip_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> Box | None:
    """The integer box of corners (x0, y0)-(x1, y1) clipped to a width x height image, or None if nothing is left."""
    left, top = max(0, round(x0)), max(0, round(y0))
    right, bottom = min(width, round(x1)), min(height, round(y1))
    if right - left < 2 or bottom - top < 2:
        return None
    return Box(left, top, right - left, bottom - top)


def largest_first(detections: list[Detection]) -> list[Detection]:
    return sorted(detections, key=lambda d: d.box.area, reverse=True)
