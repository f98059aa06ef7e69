"""Compatibility module: the Haar detector moved to ``serving_demo.detectors.haar`` (all: ``.detectors``)."""

from __future__ import annotations

import numpy as np

from serving_demo.detectors.base import Box, Detection
from serving_demo.detectors.haar import CASCADE_FILE, HaarDetector


class FaceDetector(HaarDetector):
    """The Haar detector under its old name, whose ``detect`` returned boxes (``HaarDetector`` returns detections)."""

    def detect(self, image: np.ndarray) -> list[Box]:  # type: ignore[override]
        return [d.box for d in super().detect(image)]


__all__ = ["CASCADE_FILE", "Box", "Detection", "FaceDetector", "HaarDetector"]
