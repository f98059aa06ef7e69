"""Face tracking across the frames of one stream (a video, a webcam): each face keeps an id from frame to frame.

``FaceTracker`` runs the full face detector on a schedule (every ``FULL_EVERY`` frames) and whenever a tracked face
is lost or nothing is tracked; between those frames a cheap pass (``CropPass``) looks for each tracked face only
around its last box. ``match_boxes`` pairs boxes of one frame with those of the frames before; ``ClassifySchedule``
says which faces need classifying again.
"""

from __future__ import annotations

from serving_demo.tracking.classify_schedule import CLASSIFY_EVERY, ClassifySchedule
from serving_demo.tracking.crop_pass import CROP_CONTEXT, CropPass
from serving_demo.tracking.matching import box_iou, match_boxes
from serving_demo.tracking.tracker import FULL_EVERY, MAX_MISSING, MIN_IOU, FaceTracker, TrackedDetection

__all__ = [
    "CLASSIFY_EVERY",
    "CROP_CONTEXT",
    "FULL_EVERY",
    "MAX_MISSING",
    "MIN_IOU",
    "ClassifySchedule",
    "CropPass",
    "FaceTracker",
    "TrackedDetection",
    "box_iou",
    "match_boxes",
]
