"""The cheap pass of tracking: a tracked face looked for only in a square around its last box.

A BlazeFace detector searches that square with its model (``detect_around``: at 96x96, the short-range model for
the default ``blazeface``, a fraction of a full detection's cost), which gives a fresh box and the eyes and mouth
keypoints the FER2013 framing needs. Any other detector (Haar) is run on the square cut out of the image.
"""

from __future__ import annotations

import numpy as np

from serving_demo.detectors.base import Box, Detection, FaceDetector
from serving_demo.tracking.matching import box_iou

# The square's side in face-box sides: the face fills half of it, as in the default detector's close-ups (where
# BlazeFace's short-range model finds faces best), and a face may move a quarter of the square between frames.
CROP_CONTEXT = 2.0
# A face found in the square overlapping the last box less than this is another face, not the tracked one.
MIN_CROP_IOU = 0.2


class CropPass:
    """Finds a tracked face again in a new frame, looking only around its last box.

    Args:
        detector: The stream's face detector; one with ``detect_around(image, centre, side)`` (BlazeFace) searches
            the square itself, any other is run on the square cut out of the image.
        context: The square's side, in sides of the last box.
        min_iou: Least overlap between the last box and the face found for it to be the same face.

    Raises:
        ValueError: if ``context`` is below 1 or ``min_iou`` not in [0, 1).
    """

    def __init__(self, detector: FaceDetector, context: float = CROP_CONTEXT, min_iou: float = MIN_CROP_IOU):
        if context < 1:
            raise ValueError(f"context must be at least 1, not {context}")
        if not 0 <= min_iou < 1:
            raise ValueError(f"min_iou must be in [0, 1), not {min_iou}")
        self.detector = detector
        self.context = context
        self.min_iou = min_iou
        self._around = getattr(detector, "detect_around", None)

    def find(self, image: np.ndarray, last: Detection) -> Detection | None:
        """The face of ``last`` in ``image``, or None if it is not in the square around ``last``'s box.

        Args:
            image: The new frame, RGB (H, W, 3) or gray (H, W) uint8.
            last: The face's detection in an earlier frame.

        Returns:
            The detection in the square overlapping ``last``'s box most (at least ``min_iou``), in ``image``'s
            pixels, or None.
        """
        box = last.box
        centre = (box.x + box.w / 2, box.y + box.h / 2)
        side = self.context * max(box.w, box.h)
        if self._around is not None:
            candidates = self._around(image, centre, side)
        else:
            candidates = self._detect_in_square(image, centre, side)
        best, best_iou = None, self.min_iou
        for candidate in candidates:
            iou = box_iou(candidate.box.as_tuple(), box.as_tuple())
            if iou > best_iou or (best is None and iou >= best_iou):
                best, best_iou = candidate, iou
        return best

    def _detect_in_square(self, image: np.ndarray, centre: tuple[float, float], side: float) -> list[Detection]:
        """The detector's faces in the square cut out of ``image`` (clipped to it), in ``image``'s pixels."""
        height, width = image.shape[:2]
        x0, y0 = max(0, round(centre[0] - side / 2)), max(0, round(centre[1] - side / 2))
        x1, y1 = min(width, round(centre[0] + side / 2)), min(height, round(centre[1] + side / 2))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return []
        found = self.detector.detect(np.ascontiguousarray(image[y0:y1, x0:x1]))
        return [shifted(d, x0, y0) for d in found]


def shifted(detection: Detection, dx: int, dy: int) -> Detection:
    """``detection`` moved by (dx, dy) pixels: from a cut-out's pixels to the whole image's."""
    b = detection.box
    keypoints = {name: (x + dx, y + dy) for name, (x, y) in detection.keypoints.items()}
    return Detection(Box(b.x + dx, b.y + dy, b.w, b.h), detection.score, keypoints)
