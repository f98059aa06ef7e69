"""Which tracked faces a frame needs classified, and which may keep the probabilities their track had last.

A face that barely moved since it was last classified is cut out and classified again only every ``every``
frames: the classifier costs as much as the cheap pass of tracking, and an expression seldom changes within a
frame or two (at 30 fps, ``every=2`` delays a change by a thirtieth of a second at most). A face is always
classified on a frame with a full detection, so those frames give exactly what detecting every frame gives.
"""

from __future__ import annotations

from serving_demo.tracking.matching import box_iou
from serving_demo.tracking.tracker import TrackedDetection

CLASSIFY_EVERY = 2  # classify a face that barely moved every other frame
# A face whose box overlaps the box it was classified at less than this moved: classify it. Not higher: the full
# detector's box and the cheap pass's differ by up to 0.15 of overlap on a face that did not move.
REUSE_MIN_IOU = 0.7


class ClassifySchedule:
    """Decides, frame after frame of one tracked stream, which faces to classify.

    Args:
        every: Classify each face at least every this many frames (1: every frame).
        min_iou: Classify a face whose box overlaps the box it was last classified at less than this.

    Raises:
        ValueError: if ``every`` is below 1 or ``min_iou`` not in (0, 1].
    """

    def __init__(self, every: int = CLASSIFY_EVERY, min_iou: float = REUSE_MIN_IOU):
        if every < 1:
            raise ValueError(f"classify_every must be at least 1, not {every}")
        if not 0 < min_iou <= 1:
            raise ValueError(f"min_iou must be in (0, 1], not {min_iou}")
        self.every = every
        self.min_iou = min_iou
        self._classified: dict[int, tuple[tuple[int, int, int, int], int]] = {}  # id: (box then, frames since)

    def decide(self, faces: list[TrackedDetection], full_detection: bool) -> list[bool]:
        """Which faces of the next frame to classify; the others keep their track's latest probabilities.

        Args:
            faces: The frame's tracked faces (``FaceTracker.update``).
            full_detection: Whether the frame had a full detection (then every face is classified).

        Returns:
            Per face, True to classify it.
        """
        decisions, state = [], {}
        for face in faces:
            box = face.box.as_tuple()
            last = self._classified.get(face.track_id)
            classify = (
                full_detection
                or last is None  # a new track, or one unseen in the frame before
                or last[1] + 1 >= self.every
                or box_iou(box, last[0]) < self.min_iou
            )
            state[face.track_id] = (box, 0) if classify else (last[0], last[1] + 1)
            decisions.append(classify)
        self._classified = state  # a face unseen for a frame is classified when it comes back
        return decisions

    @property
    def track_ids(self) -> list[int]:
        """The tracks of the latest frame: those whose probabilities a later frame may reuse."""
        return list(self._classified)

    def reset(self) -> None:
        """Forget every face: the next frame classifies all of them."""
        self._classified = {}
