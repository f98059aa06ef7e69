"""OpenCV's Haar cascade: the seed's face detector, kept selectable (``--detector haar``).

Haar detection costs far more than classifying a face (60-90 ms on a 640x480 frame against < 1 ms), so frames
wider than ``detect_width`` are searched on a downscaled copy and the boxes are mapped back.
"""

from __future__ import annotations

import cv2
import numpy as np

from serving_demo.detectors.base import Box, Detection, largest_first

CASCADE_FILE = "haarcascade_frontalface_default.xml"


class HaarDetector:
    """Haar-cascade frontal-face detector (no score: every face gets 1.0; no keypoints).

    Args:
        scale_factor: Image-pyramid step of ``detectMultiScale`` (larger: faster, may miss faces).
        min_neighbors: Overlapping detections needed to keep a face (larger: fewer false faces; on a
            downscaled copy one more than the usual 5 keeps the same faces as full-size search).
        min_size: Smallest face side to find, in pixels of the original image. The smallest scales
            cost the most, so a webcam default of 60 px saves a third of the time.
        detect_width: Search frames wider than this on a copy scaled to this width; None searches full size.
            The defaults are for webcam frames; for photos with small faces use e.g. 640 and 40 (``haar-photo``).
        name: The name this configuration is registered under.

    Raises:
        RuntimeError: if this OpenCV build has no Haar cascades (OpenCV 5 dropped them; install opencv<5).
    """

    def __init__(
        self,
        scale_factor: float = 1.1,
        min_neighbors: int = 6,
        min_size: int = 60,
        detect_width: int | None = 288,
        name: str = "haar",
    ):
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise RuntimeError(
                "This OpenCV has no Haar cascades (OpenCV 5 removed them): pip install 'opencv-python-headless<5'"
            )
        self.cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE_FILE)
        if self.cascade.empty():
            raise RuntimeError(f"Could not load {CASCADE_FILE} from {cv2.data.haarcascades}")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.detect_width = detect_width
        self.name = name

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Frontal faces in an RGB (H, W, 3) or gray (H, W) uint8 image, largest first."""
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        height, width = gray.shape
        scale = 1.0
        if self.detect_width and width > self.detect_width:
            scale = self.detect_width / width
            gray = cv2.resize(gray, (self.detect_width, max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        min_side = max(24, round(self.min_size * scale))  # 24 px: the cascade's own window
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(min_side, min_side)
        )
        return largest_first(
            [
                Detection(Box(round(x / scale), round(y / scale), round(w / scale), round(h / scale)))
                for x, y, w, h in found
            ]
        )


def naive_haar() -> HaarDetector:
    """What the ``fer`` package and most tutorials run: scale factor 1.1, 5 neighbours, the full frame; the baseline."""
    return HaarDetector(scale_factor=1.1, min_neighbors=5, min_size=0, detect_width=None, name="haar-naive")
