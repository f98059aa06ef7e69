"""Per-face smoothing of probabilities across webcam or video frames."""

from dataclasses import replace

import pytest

from model_zoo.constants import CLASS_NAMES
from serving_demo.face_smoothing import FaceSmoother, box_iou
from serving_demo.results import FaceResult


def face(box, top: str, p: float = 0.6) -> FaceResult:
    rest = (1 - p) / (len(CLASS_NAMES) - 1)
    probabilities = {name: (p if name == top else rest) for name in CLASS_NAMES}
    return FaceResult(box=box, emotion=top, confidence=p, probabilities=probabilities)


def test_a_flickering_face_keeps_its_label_while_a_second_face_keeps_its_own():
    smoother = FaceSmoother()
    labels = []
    for i in range(12):
        flicker = "Happy" if i % 3 else "Neutral"  # one frame in three disagrees
        other = face((400, 50, 90, 90), "Sad", 0.9)
        out = smoother.update([face((100 + i, 100, 120, 120), flicker), other])
        labels.append(out[0].emotion)
        assert out[1].emotion == "Sad" and out[1].box == other.box
        assert sum(out[0].probabilities.values()) == pytest.approx(1.0)
        assert out[0].confidence == max(out[0].probabilities.values())
    assert labels[0] == "Neutral"  # the first frame is the face's own
    assert set(labels[8:]) == {"Happy"}  # within a few frames the majority holds, then stays


def test_without_smoothing_nothing_changes_and_a_lasting_change_comes_through():
    raw = [face((10, 10, 100, 100), "Happy"), face((10, 10, 100, 100), "Neutral")]
    assert [f.emotion for f in FaceSmoother(weight=1.0).update(raw[1:])] == ["Neutral"]
    smoother = FaceSmoother()
    smoother.update(raw[:1])
    labels = [smoother.update([face((10, 10, 100, 100), "Angry", 0.9)])[0].emotion for _ in range(4)]
    assert labels[-1] == "Angry"


def test_a_face_that_moved_away_starts_afresh_and_old_faces_are_forgotten():
    smoother = FaceSmoother(max_missing=2)
    smoother.update([face((0, 0, 100, 100), "Happy", 0.95)])
    assert smoother.update([face((300, 300, 100, 100), "Sad")])[0].emotion == "Sad"  # no overlap: a new face
    for _ in range(3):
        smoother.update([])
    assert smoother.update([face((0, 0, 100, 100), "Fear")])[0].emotion == "Fear"  # the Happy face was forgotten


def test_box_iou_and_bad_settings():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    with pytest.raises(ValueError, match="weight"):
        FaceSmoother(weight=0)
    with pytest.raises(ValueError, match="min_iou"):
        FaceSmoother(min_iou=1.5)


def test_tracked_faces_are_smoothed_by_their_track_ids_whatever_their_boxes():
    smoother = FaceSmoother(max_missing=1)
    left, right = (10, 10, 100, 100), (300, 10, 100, 100)
    smoother.update([replace(face(left, "Happy", 0.9), track_id=1), replace(face(right, "Sad", 0.9), track_id=2)])
    # The two faces swapped places (boxes alone would mix them up) and each now reads a little Neutral.
    out = smoother.update(
        [replace(face(right, "Neutral", 0.5), track_id=1), replace(face(left, "Neutral", 0.5), track_id=2)]
    )
    assert [f.emotion for f in out] == ["Happy", "Sad"] and [f.track_id for f in out] == [1, 2]
    assert out[0].box == right
    for _ in range(2):
        smoother.update([])
    assert smoother.update([replace(face(left, "Fear"), track_id=1)])[0].emotion == "Fear"  # forgotten
