"""Per-face smoothing across video frames, so that labels do not flicker.

Each face is matched to a face of the previous frames by box overlap; its probabilities become an exponential
moving average over the frames it was matched in, and its emotion the top class of that average. A face unseen
for a few frames is forgotten; a new face starts from its own probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    box: tuple[int, int, int, int]
    probabilities: np.ndarray
    missing: int = 0


class FaceSmoother:
    """Smooths the probabilities of each face over the frames of one video or webcam stream.

    Args:
        weight: Weight of the newest frame in the moving average (1: no smoothing). At 0.3 a label that one frame
            in three contradicts holds steady, and a lasting change shows within about 3 frames (0.1 s at 30 fps).
        min_iou: Boxes overlapping at least this much are the same face.
        max_missing: Frames a face may go unseen before it is forgotten.

    Raises:
        ValueError: if ``weight`` is not in (0, 1] or ``min_iou`` not in (0, 1).
    """

    def __init__(self, weight: float = 0.3, min_iou: float = 0.3, max_missing: int = 5):
        if not 0 < weight <= 1:
            raise ValueError(f"weight must be in (0, 1], not {weight}")
        if not 0 < min_iou < 1:
            raise ValueError(f"min_iou must be in (0, 1), not {min_iou}")
        self.weight = weight
        self.min_iou = min_iou
        self.max_missing = max_missing
        self._tracks: list[_Track] = []

    def reset(self) -> None:
        """Forget every face (a new stream)."""
        self._tracks = []

    def update(self, faces: list) -> list:
        """The faces of a new frame with smoothed probabilities, emotion and confidence.

        Args:
            faces: ``FaceResult`` objects of one frame (``box`` and ``probabilities`` are used).

        Returns:
            New ``FaceResult`` objects in the same order, with the same boxes.
        """
        pairs = sorted(
            ((box_iou(t.box, f.box), ti, fi) for ti, t in enumerate(self._tracks) for fi, f in enumerate(faces)),
            reverse=True,
        )
        track_of: dict[int, int] = {}
        used: set[int] = set()
        for iou, ti, fi in pairs:
            if iou < self.min_iou:
                break
            if ti not in used and fi not in track_of:
                track_of[fi] = ti
                used.add(ti)
        for track in self._tracks:
            track.missing += 1
        smoothed = []
        for fi, face in enumerate(faces):
            names = list(face.probabilities)
            current = np.array([face.probabilities[n] for n in names], np.float64)
            if fi in track_of:
                track = self._tracks[track_of[fi]]
                track.probabilities = self.weight * current + (1 - self.weight) * track.probabilities
                track.box, track.missing = face.box, 0
            else:
                track = _Track(face.box, current)
                self._tracks.append(track)
            top = int(np.argmax(track.probabilities))
            smoothed.append(
                replace(
                    face,
                    emotion=names[top],
                    confidence=float(track.probabilities[top]),
                    probabilities={n: float(p) for n, p in zip(names, track.probabilities)},
                )
            )
        self._tracks = [t for t in self._tracks if t.missing <= self.max_missing]
        return smoothed
