"""``FaceStream``: the faces of one stream of frames (a video, a webcam), tracked from frame to frame or not.

Made by ``EmotionRecognizer.stream``; with tracking, each face keeps a ``track_id``, a cheap pass follows it between
full detections (``serving_demo.tracking.FaceTracker``) and a face that barely moved keeps its latest probabilities
for a frame (``serving_demo.tracking.ClassifySchedule``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from serving_demo.detectors import Detection, FaceDetector
from serving_demo.image_io import MAX_SIDE, load_image
from serving_demo.results import Analysis, FoundFaces
from serving_demo.tracking import CLASSIFY_EVERY, FULL_EVERY, ClassifySchedule, FaceTracker

if TYPE_CHECKING:  # for the annotations only: the recognizer imports this module
    from serving_demo.recognizer import EmotionRecognizer


class FaceStream:
    """The faces of one stream of frames (a video, a webcam), frame after frame (``EmotionRecognizer.stream``).

    With tracking, every ``FaceResult`` carries the ``track_id`` its face keeps while it stays in view; between full
    detections a cheap pass looks for each face only around its last box (``serving_demo.tracking.FaceTracker``),
    and a face that barely moved is classified every ``classify_every`` frames, keeping its latest probabilities in
    between (``serving_demo.tracking.ClassifySchedule``). Without, every frame is analysed as
    ``EmotionRecognizer.analyze`` does (``track_id`` None). Frames must come in order; one stream per video or
    browser session.

    Args:
        recognizer: The recognizer whose detectors and classifier run.
        tracking, detector, full_every, first_frame, classify_every: As for ``EmotionRecognizer.stream``.

    Raises:
        ValueError: on an unknown detector, or ``full_every`` or ``classify_every`` below 1.
    """

    def __init__(
        self,
        recognizer: EmotionRecognizer,
        tracking: bool = True,
        detector: str | FaceDetector | None = None,
        full_every: int = FULL_EVERY,
        first_frame: int = 0,
        classify_every: int = CLASSIFY_EVERY,
    ):
        self.recognizer = recognizer
        self.detector = recognizer.face_detector(detector)
        self.tracker = FaceTracker(self.detector, full_every, first_frame=first_frame) if tracking else None
        self.schedule = ClassifySchedule(classify_every) if tracking else None
        self._latest: dict[int, np.ndarray] = {}  # each track's latest probabilities, for the faces that reuse them
        self._latest_backend: str | None = None  # the backend that gave them

    @property
    def tracking(self) -> bool:
        """Whether faces are tracked."""
        return self.tracker is not None

    @property
    def detector_name(self) -> str:
        """The name of the stream's face detector."""
        return self.detector.name

    def find_faces(self, frame, channel_order: str = "rgb") -> FoundFaces:
        """The faces of the next frame, found (tracked) and cut out but not yet classified.

        Raises:
            ImageInputError: if ``frame`` cannot be used.
        """
        rgb = frame_to_rgb(frame, channel_order)
        if self.tracker is None:
            return self.recognizer.cut_out_faces(rgb, self.detector.name, self.detector.detect)
        tracker, schedule = self.tracker, self.schedule

        def select(faces: list[Detection]) -> list[bool]:
            return schedule.decide(faces, tracker.last_was_full)

        return self.recognizer.cut_out_faces(rgb, self.detector.name, tracker.update, select)

    def analyze(self, frame, backend: str | None = None, channel_order: str = "rgb") -> Analysis:
        """The ``Analysis`` of the next frame.

        Args:
            frame: An image in any form ``EmotionRecognizer.analyze`` takes.
            backend: Use this backend instead of the recognizer's current one.
            channel_order: ``"rgb"`` or ``"bgr"`` for 3-channel NumPy arrays.

        Returns:
            The frame's faces, with their track ids when tracking.

        Raises:
            ImageInputError: if ``frame`` cannot be used.
            ValueError: on an unknown or missing backend.
        """
        return self.analyze_many([frame], backend, channel_order)[0]

    def analyze_many(self, frames, backend: str | None = None, channel_order: str = "rgb") -> list[Analysis]:
        """``analyze`` for the next several frames, in order, their faces classified in one batch.

        Raises:
            ImageInputError: if a frame cannot be used; nothing is classified then.
            ValueError: on an unknown or missing backend.
        """
        self.recognizer.predictor(backend)  # an unknown backend fails before the frames move the tracks on
        if self.schedule is None:
            return self.recognizer.classify_found([self.find_faces(f, channel_order) for f in frames], backend)
        if (backend or self.recognizer.backend) != self._latest_backend:  # another model: no probabilities to reuse
            self.schedule.reset()
            self._latest, self._latest_backend = {}, backend or self.recognizer.backend
        found = [self.find_faces(f, channel_order) for f in frames]
        analyses = self.recognizer.classify_found(found, backend, self._latest)
        self._latest = {i: self._latest[i] for i in self.schedule.track_ids if i in self._latest}  # reusable next
        return analyses

    def reset(self) -> None:
        """Forget the faces followed so far (a new scene); ids are not reused."""
        if self.tracker is not None:
            self.tracker.reset()
            self.schedule.reset()


def frame_to_rgb(frame, channel_order: str = "rgb") -> np.ndarray:
    """The RGB image of a frame, as ``load_image`` gives it.

    A video's frame (uint8, 3 channels, BGR) takes one channel swap, the same pixels in a twentieth of the time of
    ``load_image``'s general path (0.2 ms against 3-4 ms for 640x480: a large share of a tracked frame's cost).

    Args:
        frame: Any image ``load_image`` takes.
        channel_order: ``"rgb"`` or ``"bgr"`` for 3-channel NumPy arrays.

    Returns:
        The (H, W, 3) uint8 RGB image.

    Raises:
        ImageInputError: if ``frame`` cannot be used.
    """
    if (
        isinstance(frame, np.ndarray)
        and channel_order == "bgr"
        and frame.dtype == np.uint8
        and frame.ndim == 3
        and frame.shape[-1] == 3
        and max(frame.shape[:2]) <= MAX_SIDE
        and min(frame.shape[:2]) > 0
    ):
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return load_image(frame, channel_order)
