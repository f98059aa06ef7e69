"""From a detector's box to the 48x48 face the classifier expects, framed as in FER2013.

Detectors frame faces differently (BlazeFace's box is tight around eyes, nose and mouth; Haar's a little
wider), and FER2013's faces include the forehead and chin. ``FRAMINGS`` holds, per detector, where the FER2013
face square lies relative to that detector's box, as measured by ``fer-bench --calibrate-framing`` on FER2013
training faces pasted into scenes (``export.benchmarks.faces_in_frames.calibrate_framing``). With ``align``, faces
whose eyes the detector located are turned upright (roll correction) before they are cut out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from model_zoo.constants import FACE_SIZE
from serving_demo.detectors.base import Detection


@dataclass(frozen=True)
class Framing:
    """Where the FER2013 face square lies relative to a detection.

    With ``reference="box"``: the square's centre is the box centre plus ``(dx * w, dy * h)``, its side
    ``scale * max(w, h)``. With ``reference="eyes_mouth"`` (detectors with keypoints): the unit is the distance
    ``u`` from the midpoint of the eyes to the mouth, the origin halfway between them, and the offsets run along
    the face's own axes (``dy`` towards the mouth), so they follow a tilted face; the side is ``scale * u``.
    """

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0
    reference: str = "box"


IDENTITY = Framing()
# Measured by `fer-bench --data ../shared/data/fer2013 --calibrate-framing --split train --limit 900`: 900
# training faces pasted upright into scenes (medians; seed 0). BlazeFace's eyes and mouth place the square more
# steadily than its box (interquartile range of the centre 0.05 of the side against 0.06-0.08) and follow a tilted
# face; Haar gives no keypoints.
FRAMINGS: dict[str, Framing] = {
    "blazeface": Framing(0.001, -0.214, 2.625, "eyes_mouth"),
    "blazeface-full": Framing(0.025, -0.208, 2.869, "eyes_mouth"),
    "blazeface-short": Framing(0.036, -0.185, 2.758, "eyes_mouth"),
    "haar": Framing(0.007, 0.006, 1.030),
    "haar-photo": Framing(0.006, 0.014, 1.058),
}


def framing_for(detector_name: str) -> Framing:
    """The calibrated framing of a detector (the box itself for a detector that was never calibrated)."""
    return FRAMINGS.get(detector_name, IDENTITY)


def roll_degrees(detection: Detection) -> float | None:
    """The face's roll in degrees (positive: turned clockwise in the image) from its eyes, or None without eyes."""
    eyes = detection.eyes
    if eyes is None:
        return None
    (rx, ry), (lx, ly) = eyes  # the person's right eye is on the image's left
    return math.degrees(math.atan2(ly - ry, lx - rx))


def crop_square(detection: Detection, framing: Framing) -> tuple[float, float, float]:
    """The FER2013-framed square of a detection: centre x, centre y and side, in image pixels (may leave the image).

    A framing by ``eyes_mouth`` falls back to the box for a detection without those keypoints (same offsets,
    with the box side as the unit)."""
    b = detection.box
    if framing.reference == "eyes_mouth" and detection.eyes is not None and "mouth" in detection.keypoints:
        (rx, ry), (lx, ly) = detection.eyes
        mouth_x, mouth_y = detection.keypoints["mouth"]
        eyes_x, eyes_y = (rx + lx) / 2, (ry + ly) / 2
        unit = max(math.hypot(mouth_x - eyes_x, mouth_y - eyes_y), 1.0)
        down_x, down_y = (mouth_x - eyes_x) / unit, (mouth_y - eyes_y) / unit
        cx = (eyes_x + mouth_x) / 2 + framing.dx * unit * down_y + framing.dy * unit * down_x
        cy = (eyes_y + mouth_y) / 2 - framing.dx * unit * down_x + framing.dy * unit * down_y
        return cx, cy, framing.scale * unit
    return b.x + b.w / 2 + framing.dx * b.w, b.y + b.h / 2 + framing.dy * b.h, framing.scale * max(b.w, b.h)


def face_crop(gray: np.ndarray, detection: Detection, framing: Framing = IDENTITY, align: bool = False) -> np.ndarray:
    """The (48, 48) uint8 face of one detection in a gray image.

    Args:
        gray: The (H, W) uint8 image the detection was found in.
        detection: The face.
        framing: Where the FER2013 square lies relative to the detector's box.
        align: Turn the face upright by its eye keypoints first (no effect without eye keypoints).

    Returns:
        The face, framed like FER2013; parts beyond the image edge repeat the edge pixels.
    """
    cx, cy, side = crop_square(detection, framing)
    angle = roll_degrees(detection) if align else None
    # One affine warp cuts the (rotated) square out at its own size; edge pixels fill what lies outside.
    out = max(FACE_SIZE, round(side))
    matrix = cv2.getRotationMatrix2D((cx, cy), angle or 0.0, out / side)
    matrix[:, 2] += (out / 2 - cx, out / 2 - cy)
    square = cv2.warpAffine(gray, matrix, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if out == FACE_SIZE:
        return square
    return cv2.resize(square, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def face_crops(
    gray: np.ndarray, detections: list[Detection], framing: Framing = IDENTITY, align: bool = False
) -> np.ndarray:
    """The faces of all detections as one (N, 48, 48, 1) uint8 batch (see ``face_crop``)."""
    if not detections:
        return np.zeros((0, FACE_SIZE, FACE_SIZE, 1), np.uint8)
    return np.stack([face_crop(gray, d, framing, align) for d in detections])[..., None]
