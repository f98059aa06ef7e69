"""``FaceTracker``: the faces of each frame of one stream, each with an id it keeps from frame to frame.

The full detector runs on a schedule (every ``full_every`` frames, counted from the stream's first frame) and on any
frame where nothing is tracked (a face may appear any time) or a tracked face is lost; on the other frames the cheap
pass (``CropPass``) looks for each tracked face around its last box. On a frame with a full detection the faces are
exactly the detector's, so tracking never finds fewer faces there than detecting every frame would.

A face the cheap pass loses sets off a full detection of that frame; a face neither pass finds goes unseen (no crop
pass is spent on it) and may be found again by a later full detection, near its last box, within ``max_missing``
frames; after that its track ends. Ids are never reused within a stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving_demo.detectors.base import Detection, FaceDetector, largest_first
from serving_demo.tracking.crop_pass import CropPass
from serving_demo.tracking.matching import box_iou, match_boxes

FULL_EVERY = 10  # frames between scheduled full detections: a new face is found within a third of a second at 30 fps
MAX_MISSING = 30  # frames a face may go unseen (1 s at 30 fps) and keep its id when a full detection finds it again
MIN_IOU = 0.3  # least overlap of a face with a track's last box to continue the track
# A face unseen for a while may have moved: a full detection's face whose centre lies within half a side of an
# unseen track's last box continues that track too.
MAX_CENTRE_DISTANCE = 0.5
DUPLICATE_IOU = 0.5  # two tracks whose faces overlap this much follow the same face: the newer one is dropped


@dataclass(frozen=True)
class TrackedDetection(Detection):
    """A ``Detection`` with the id of the track it belongs to (1, 2, ... in the order the faces appeared)."""

    track_id: int = 0


@dataclass
class _Track:
    track_id: int
    detection: Detection
    missing: int = 0  # frames since the face was last found


class FaceTracker:
    """The track state of one stream of frames: call ``update`` with each frame, in order.

    Args:
        detector: The full face detector (``serving_demo.detectors``).
        full_every: Frames between scheduled full detections (1: every frame is a full detection).
        max_missing: Frames a face may go unseen before its track ends.
        min_iou: Least overlap with a track's last box for a full detection's face to continue it.
        first_frame: The number of the stream's first frame; full detections are scheduled on the frames whose
            number is a multiple of ``full_every``, so that a stream split into parts starting at such frames
            (a video shared among processes) detects on the same frames as the whole stream.
        crop_pass: The cheap pass (default: ``CropPass(detector)``).

    Raises:
        ValueError: if ``full_every`` or ``max_missing`` is below 1 or 0, or ``min_iou`` not in (0, 1).
    """

    def __init__(
        self,
        detector: FaceDetector,
        full_every: int = FULL_EVERY,
        max_missing: int = MAX_MISSING,
        min_iou: float = MIN_IOU,
        first_frame: int = 0,
        crop_pass: CropPass | None = None,
    ):
        if full_every < 1:
            raise ValueError(f"full_every must be at least 1, not {full_every}")
        if max_missing < 0:
            raise ValueError(f"max_missing must be at least 0, not {max_missing}")
        if not 0 < min_iou < 1:
            raise ValueError(f"min_iou must be in (0, 1), not {min_iou}")
        self.detector = detector
        self.full_every = full_every
        self.max_missing = max_missing
        self.min_iou = min_iou
        self.crop_pass = crop_pass or CropPass(detector)
        self.frame = first_frame  # the number of the next frame
        self.full_detections = 0  # frames given a full detection so far
        self.last_was_full = False  # whether the latest frame had a full detection
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def active_ids(self) -> list[int]:
        """Ids of the faces found in the latest frame."""
        return [t.track_id for t in self._tracks if t.missing == 0]

    def reset(self) -> None:
        """End every track (a new stream); ids go on from where they were, so none is reused."""
        self._tracks = []

    def update(self, image: np.ndarray) -> list[TrackedDetection]:
        """The faces of the next frame, each with its track id, largest first.

        Args:
            image: The frame, RGB (H, W, 3) or gray (H, W) uint8, as the detector takes it.

        Returns:
            One ``TrackedDetection`` per face found in this frame.
        """
        active = [t for t in self._tracks if t.missing == 0]
        full = self.frame % self.full_every == 0 or not active
        found: dict[int, Detection] = {}
        if not full:
            for track in active:
                detection = self.crop_pass.find(image, track.detection)
                if detection is None:
                    full = True  # a lost face may have gone anywhere: look everywhere, this frame
                    break
                found[track.track_id] = detection
            full = full or _has_duplicates(list(found.values()))
        self.frame += 1
        self.last_was_full = full
        if full:
            self.full_detections += 1
            return self._full_detection(image)
        for track in self._tracks:
            if track.track_id in found:
                track.detection, track.missing = found[track.track_id], 0
            else:
                track.missing += 1
        self._end_old_tracks()
        faces = [_tracked(found[t.track_id], t.track_id) for t in active]
        return largest_first(faces)

    def _full_detection(self, image: np.ndarray) -> list[TrackedDetection]:
        """Detect every face and continue the tracks they overlap; the others start new tracks."""
        detections = self.detector.detect(image)
        matched = match_boxes(
            [t.detection.box.as_tuple() for t in self._tracks],
            [d.box.as_tuple() for d in detections],
            self.min_iou,
            MAX_CENTRE_DISTANCE,
        )
        for track in self._tracks:
            track.missing += 1
        faces = []
        for index, detection in enumerate(detections):  # largest first: new ids in that order
            if index in matched:
                track = self._tracks[matched[index]]
                track.detection, track.missing = detection, 0
            else:
                track = _Track(self._next_id, detection)
                self._next_id += 1
                self._tracks.append(track)
            faces.append(_tracked(detection, track.track_id))
        self._end_old_tracks()
        return faces

    def _end_old_tracks(self) -> None:
        self._tracks = [t for t in self._tracks if t.missing <= self.max_missing]


def _tracked(detection: Detection, track_id: int) -> TrackedDetection:
    return TrackedDetection(detection.box, detection.score, detection.keypoints, track_id)


def _has_duplicates(detections: list[Detection]) -> bool:
    """Whether two of the faces found by the cheap pass are the same face (two tracks ran into one)."""
    boxes = [d.box.as_tuple() for d in detections]
    return any(box_iou(a, b) > DUPLICATE_IOU for i, a in enumerate(boxes) for b in boxes[i + 1 :])
