"""Per-face smoothing across video frames, so that labels do not flicker.

Each face is matched to a face of the previous frames: by its track id where the stream tracks faces
(``EmotionRecognizer.stream``), else by box overlap. Its probabilities become an exponential moving average over the
frames it was matched in, and its emotion the top class of that average. A face unseen for a few frames is
forgotten; a new face starts from its own probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from serving_demo.tracking.matching import box_iou, match_boxes

__all__ = ["FaceSmoother", "box_iou"]


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
        min_iou: Boxes overlapping at least this much are the same face (faces without a track id).
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
        self._tracks: list[_Track] = []  # faces without a track id, matched by overlap
        self._by_id: dict[int, _Track] = {}  # faces of a tracked stream, by track id

    def reset(self) -> None:
        """Forget every face (a new stream)."""
        self._tracks = []
        self._by_id = {}

    def update(self, faces: list) -> list:
        """The faces of a new frame with smoothed probabilities, emotion and confidence.

        Args:
            faces: ``FaceResult`` objects of one frame (``box``, ``probabilities`` and ``track_id`` are used).

        Returns:
            New ``FaceResult`` objects in the same order, with the same boxes (and track ids).
        """
        untracked = [i for i, f in enumerate(faces) if getattr(f, "track_id", None) is None]
        matched = match_boxes([t.box for t in self._tracks], [faces[i].box for i in untracked], self.min_iou)
        track_of = {untracked[ci]: self._tracks[ti] for ci, ti in matched.items()}
        for track in [*self._tracks, *self._by_id.values()]:
            track.missing += 1
        smoothed = []
        for fi, face in enumerate(faces):
            names = list(face.probabilities)
            current = np.array([face.probabilities[n] for n in names], np.float64)
            track_id = getattr(face, "track_id", None)
            track = track_of.get(fi) if track_id is None else self._by_id.get(track_id)
            if track is not None:
                track.probabilities = self.weight * current + (1 - self.weight) * track.probabilities
                track.box, track.missing = face.box, 0
            else:
                track = _Track(face.box, current)
                if track_id is None:
                    self._tracks.append(track)
                else:
                    self._by_id[track_id] = track
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
        self._by_id = {i: t for i, t in self._by_id.items() if t.missing <= self.max_missing}
        return smoothed
