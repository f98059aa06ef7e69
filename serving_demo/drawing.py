"""Drawing face boxes and emotion labels onto an image."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from model_zoo.constants import CLASS_NAMES

# One colour per class (RGB), in class order: Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral.
_CLASS_COLOURS = (
    (230, 57, 70),
    (106, 153, 78),
    (155, 93, 229),
    (255, 183, 3),
    (33, 158, 188),
    (251, 133, 0),
    (173, 181, 189),
)
EMOTION_COLOURS = dict(zip(CLASS_NAMES, _CLASS_COLOURS, strict=True))


def draw_faces(image: np.ndarray, faces: Sequence) -> np.ndarray:
    """A copy of the RGB ``image`` with a box and an "Emotion 87%" label on each face.

    Args:
        image: (H, W, 3) RGB uint8.
        faces: Objects with ``box`` (x, y, w, h), ``emotion`` and ``confidence`` (``FaceResult``).

    Returns:
        The annotated copy; ``image`` is left untouched.
    """
    out = np.ascontiguousarray(image.copy())
    thickness = max(2, round(max(out.shape[:2]) / 400))
    for face in faces:
        x, y, w, h = face.box
        colour = EMOTION_COLOURS.get(face.emotion, (255, 255, 255))
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thickness)
        label = f"{face.emotion} {face.confidence:.0%}"
        font_scale = max(0.5, w / 220)
        (text_w, text_h), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = y - text_h - baseline - 4 if y - text_h - baseline - 4 >= 0 else y + h
        cv2.rectangle(out, (x, top), (x + text_w + 6, top + text_h + baseline + 4), colour, cv2.FILLED)
        cv2.putText(
            out,
            label,
            (x + 3, top + text_h + 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (0, 0, 0),
            thickness,
            cv2.LINE_AA,
        )
    return out
