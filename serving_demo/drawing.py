"""Drawing face boxes and emotion labels onto an image, each emotion in its own colour.

Colours are keyed by class name, so an export with any classes draws: FER2013's seven emotions and FER+'s
contempt have fixed colours (``EMOTION_COLOURS``), any other name a colour of its own derived from the name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import cv2
import numpy as np

# One colour per class (RGB), by class name: FER2013's seven emotions, then FER+'s contempt.
EMOTION_COLOURS: dict[str, tuple[int, int, int]] = {
    "Angry": (230, 57, 70),
    "Disgust": (106, 153, 78),
    "Fear": (155, 93, 229),
    "Happy": (255, 183, 3),
    "Sad": (33, 158, 188),
    "Surprise": (251, 133, 0),
    "Neutral": (173, 181, 189),
    "Contempt": (214, 40, 140),
}


def emotion_colour(name: str) -> tuple[int, int, int]:
    """The RGB colour a class is drawn in.

    Args:
        name: A class name, as an export's ``labels.txt`` spells it.

    Returns:
        Its colour in ``EMOTION_COLOURS``; for another name, a light colour derived from the name (the same on
        every run and machine), so that every class of any export has one.
    """
    if name in EMOTION_COLOURS:
        return EMOTION_COLOURS[name]
    red, green, blue = (96 + value * 159 // 255 for value in hashlib.blake2b(name.encode(), digest_size=3).digest())
    return red, green, blue  # each 96-255: light enough for the black label text


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
        colour = emotion_colour(face.emotion)
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
