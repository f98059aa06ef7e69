"""Face tracking: ids across frames, the full detection's schedule, the cheap pass, lost and new faces.

Most tests use white squares on black frames and a detector that finds them exactly (fast and deterministic); the
last ones track a real face (the astronaut photo) moving across frames with the shipped BlazeFace and classifier.
"""

import cv2
import numpy as np
import pytest

from serving_demo.detectors.base import Box, Detection, largest_first
from serving_demo.tracking import ClassifySchedule, CropPass, FaceTracker, TrackedDetection, box_iou, match_boxes
from tests.images import astronaut


class Squares:
    """Finds white squares (the 'faces') in a frame; counts its calls on whole frames and on cut-outs."""

    name = "squares"

    def __init__(self, min_side: int = 10):
        self.min_side = min_side
        self.whole_frames = 0
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        self.whole_frames += image.shape[:2] == (240, 320)
        gray = image if image.ndim == 2 else image[..., 0]
        count, _, stats, _ = cv2.connectedComponentsWithStats((gray > 128).astype(np.uint8))
        found = [Detection(Box(int(x), int(y), int(w), int(h))) for x, y, w, h, _ in stats[1:count]]
        return largest_first([d for d in found if min(d.box.w, d.box.h) >= self.min_side])


def frame(*squares: tuple[int, int, int]) -> np.ndarray:
    """A 320x240 black frame with white squares (x, y, side)."""
    image = np.zeros((240, 320), np.uint8)
    for x, y, side in squares:
        image[y : y + side, x : x + side] = 255
    return image


def run(tracker: FaceTracker, frames: list[np.ndarray]) -> list[dict[int, tuple[int, int, int, int]]]:
    """Per frame, ``{track id: box}``."""
    return [{d.track_id: d.box.as_tuple() for d in tracker.update(f)} for f in frames]


def test_a_moving_face_keeps_its_id_and_full_detections_run_on_schedule():
    detector = Squares()
    tracker = FaceTracker(detector, full_every=5)
    frames = [frame((20 + 4 * i, 50 + i, 40)) for i in range(20)]
    tracks = run(tracker, frames)
    assert [list(t) for t in tracks] == [[1]] * 20
    assert [t[1] for t in tracks] == [(20 + 4 * i, 50 + i, 40, 40) for i in range(20)]  # every box exact
    assert tracker.full_detections == 4 and detector.whole_frames == 4  # frames 0, 5, 10 and 15
    assert detector.calls == 20  # the 16 others: one cheap pass each, on a cut-out around the face
    out = tracker.update(frames[-1])
    assert tracker.last_was_full and isinstance(out[0], TrackedDetection)  # frame 20


def test_a_new_face_gets_a_new_id_at_the_next_full_detection_and_a_leaving_face_ends_its_track():
    tracker = FaceTracker(Squares(), full_every=4, max_missing=3)
    frames = [frame((20, 20, 40))] * 3 + [frame((20, 20, 40), (200, 100, 60))] * 5 + [frame((200, 100, 60))] * 8
    tracks = run(tracker, frames)
    assert [sorted(t) for t in tracks[:3]] == [[1]] * 3
    assert tracks[3] == {1: (20, 20, 40, 40)}  # the newcomer waits for the scheduled full detection (frame 4)
    assert [sorted(t) for t in tracks[4:8]] == [[1, 2]] * 4
    assert list(tracks[4]) == [2, 1]  # largest first
    assert [sorted(t) for t in tracks[8:]] == [[2]] * 8
    assert tracker.active_ids == [2]
    tracker.update(frame((20, 20, 40), (200, 100, 60)))  # frame 16: a full detection; the old face is long gone
    assert sorted(tracker.active_ids) == [2, 3]  # a new id: ids are never reused


def test_a_lost_face_sets_off_a_full_detection_of_that_frame():
    detector = Squares()
    tracker = FaceTracker(detector, full_every=100)
    tracks = run(tracker, [frame((20, 20, 40)), frame((24, 20, 40)), frame((200, 150, 40)), frame((204, 150, 40))])
    # The jump is out of the cheap pass's view: the frame is searched whole, and the face far from the last box is
    # a new face.
    assert tracks == [{1: (20, 20, 40, 40)}, {1: (24, 20, 40, 40)}, {2: (200, 150, 40, 40)}, {2: (204, 150, 40, 40)}]
    assert detector.whole_frames == 2 and tracker.full_detections == 2


def test_a_face_unseen_for_a_few_frames_keeps_its_id_and_one_unseen_longer_does_not():
    tracker = FaceTracker(Squares(), full_every=100, max_missing=2)
    gone = frame()
    tracks = run(tracker, [frame((50, 50, 40)), gone, gone, frame((52, 50, 40)), gone, gone, gone, frame((50, 50, 40))])
    assert [list(t) for t in tracks] == [[1], [], [], [1], [], [], [], [2]]
    assert tracker.full_detections == 8  # a face lost, or nothing tracked: every frame is searched whole


def test_a_stream_in_parts_detects_on_the_same_frames_as_the_whole_stream():
    frames = [frame((20 + 3 * i, 60, 40)) for i in range(12)]
    whole = FaceTracker(Squares(), full_every=4)
    for f in frames:
        whole.update(f)
    second_part = FaceTracker(Squares(), full_every=4, first_frame=8)
    full = []
    for f in frames[8:]:
        second_part.update(f)
        full.append(second_part.last_was_full)
    assert full == [True, False, False, False] and whole.full_detections == 3


class OneFace:
    """A cheap pass that finds the same face whatever it looks for: two tracks ran into one face."""

    def find(self, image, last):
        return Detection(Box(30, 20, 50, 50))


def test_two_tracks_that_run_into_one_face_set_off_a_full_detection_which_settles_whose_it_is():
    tracker = FaceTracker(Squares(), full_every=100, crop_pass=OneFace())
    tracks = run(tracker, [frame((20, 20, 40), (70, 20, 40)), frame((30, 20, 50))])
    assert list(tracks[0]) == [1, 2] and tracks[1] == {1: (30, 20, 50, 50)} and tracker.last_was_full


def test_the_cheap_pass_looks_only_around_the_last_box():
    crop = CropPass(Squares(), context=2.0)
    last = Detection(Box(100, 100, 40, 40))
    assert crop.find(frame((105, 98, 40)), last).box == Box(105, 98, 40, 40)
    assert crop.find(frame((200, 100, 40)), last) is None  # outside the 80x80 square around the box
    assert crop.find(frame((112, 112, 12)), last) is None  # inside, but overlapping the last box too little
    with pytest.raises(ValueError, match="context"):
        CropPass(Squares(), context=0.5)
    with pytest.raises(ValueError, match="full_every"):
        FaceTracker(Squares(), full_every=0)


def test_matching_pairs_by_overlap_then_by_centre():
    previous = [(0, 0, 10, 10), (100, 100, 20, 20)]
    assert match_boxes(previous, [(101, 100, 20, 20), (1, 0, 10, 10)], 0.3) == {0: 1, 1: 0}
    assert match_boxes(previous, [(108, 100, 20, 20)], 0.5) == {}
    assert match_boxes(previous, [(108, 100, 20, 20)], 0.5, max_centre_distance=0.5) == {0: 1}
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(1 / 3)


# A real face: the astronaut photo moving across 640x480 frames, the shipped BlazeFace and classifier.


def moving_astronaut(frames: int, second_face_from: int | None = None, leaves_at: int | None = None) -> list:
    """RGB 640x480 frames: the astronaut (320x320) drifting right and down 3 and 1 px a frame; from
    ``second_face_from`` her mirror image (300x300) at the right; from ``leaves_at`` the first face is gone."""
    photo = cv2.resize(astronaut(), (320, 320), interpolation=cv2.INTER_AREA)
    mirror = cv2.resize(astronaut()[:, ::-1], (300, 300), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(frames):
        image = np.full((480, 640, 3), 90, np.uint8)
        if leaves_at is None or i < leaves_at:
            image[40 + i : 360 + i, 10 + 3 * i : 330 + 3 * i] = photo
        if second_face_from is not None and i >= second_face_from:
            image[170:470, 330:630] = mirror
        out.append(image)
    return out


@pytest.fixture(scope="module")
def recognizer():
    from serving_demo.recognizer import EmotionRecognizer

    return EmotionRecognizer()


def test_a_real_face_is_tracked_with_one_id_and_a_second_face_gets_another(recognizer):
    stream = recognizer.stream(full_every=10)
    frames = moving_astronaut(40, second_face_from=15, leaves_at=32)
    ids = [sorted(f.track_id for f in stream.analyze(image).faces) for image in frames]
    assert ids[:15] == [[1]] * 15
    assert all(i in ([1], [1, 2]) for i in ids[15:20])  # the newcomer is found by the next full detection at most
    assert ids[20:32] == [[1, 2]] * 12
    assert ids[32:] == [[2]] * 8  # the first face left: its track ends, the other goes on
    assert stream.tracker.full_detections <= 6  # frames 0, 10, 20, 30, and the frame the first face left


def test_tracking_agrees_with_detecting_every_frame(recognizer):
    frames = moving_astronaut(60)
    tracked = recognizer.stream(tracking=True).analyze_many(frames)
    untracked = recognizer.stream(tracking=False).analyze_many(frames)
    assert all(len(a.faces) == 1 for a in tracked + untracked)
    same = sum(a.faces[0].emotion == b.faces[0].emotion for a, b in zip(tracked, untracked))
    assert same >= 0.97 * len(frames)
    for a, b in zip(tracked, untracked):
        assert box_iou(a.faces[0].box, b.faces[0].box) > 0.7
    assert [b.faces[0].track_id for b in untracked] == [None] * 60


def test_blazeface_looks_around_a_face_with_its_model_at_its_own_size(recognizer):
    image = moving_astronaut(1)[0]
    detector = recognizer.face_detector("blazeface")
    (face,) = detector.detect(image)
    b = face.box
    centre = (b.x + b.w / 2, b.y + b.h / 2)
    (found,) = detector.detect_around(image, centre, 2 * max(b.w, b.h))
    assert box_iou(found.box.as_tuple(), b.as_tuple()) > 0.7 and set(found.keypoints) == set(face.keypoints)
    assert detector.detect_around(image, (560, 400), 2 * max(b.w, b.h)) == []  # nothing there
    # Any BlazeFace detector can look around a face (at 96x96, whatever its search size).
    from serving_demo.detectors.blazeface import BlazeFaceDetector

    big = BlazeFaceDetector("short", input_size=256, num_threads=1)
    assert box_iou(big.detect_around(image, centre, 2 * max(b.w, b.h))[0].box.as_tuple(), b.as_tuple()) > 0.7


def test_a_face_that_barely_moved_is_classified_every_other_frame_and_always_on_full_detections():
    schedule = ClassifySchedule(every=2)

    def faces(*boxes_and_ids):
        return [TrackedDetection(Box(*box), track_id=i) for box, i in boxes_and_ids]

    still, moved = (100, 100, 50, 50), (120, 100, 50, 50)
    decisions = [
        schedule.decide(faces((still, 1)), full_detection=True),  # a full detection: classify
        schedule.decide(faces((still, 1)), False),  # barely moved: reuse
        schedule.decide(faces((still, 1)), False),  # every other frame: classify
        schedule.decide(faces((still, 1), ((300, 50, 40, 40), 2)), False),  # reuse; a new track: classify
        schedule.decide(faces((moved, 1), ((300, 50, 40, 40), 2)), False),  # moved: classify; reuse
        schedule.decide(faces(((300, 50, 40, 40), 2)), False),  # classify (every other frame)
        schedule.decide(faces((moved, 1), ((300, 50, 40, 40), 2)), False),  # unseen a frame: classify; reuse
    ]
    assert decisions == [[True], [False], [True], [False, True], [True, False], [True], [True, False]]
    assert schedule.track_ids == [1, 2]
    patient = ClassifySchedule(every=5)
    patient.decide(faces((still, 1)), True)
    assert patient.decide(faces((still, 1)), False) == [False]
    assert patient.decide(faces((moved, 1)), False) == [True]  # moved: its crop is another picture
    assert ClassifySchedule(every=1).decide(faces((still, 1)), False) == [True]
    every_1 = ClassifySchedule(every=1)
    every_1.decide(faces((still, 1)), True)
    assert every_1.decide(faces((still, 1)), False) == [True]
    with pytest.raises(ValueError, match="classify_every"):
        ClassifySchedule(every=0)


def test_a_stream_reuses_a_still_faces_probabilities_every_other_frame_unless_told(recognizer):
    frames = moving_astronaut(8)  # 3 px a frame: barely moving
    stream = recognizer.stream(full_every=100)
    analyses = [stream.analyze(f) for f in frames]
    reused = [a.classify_ms == 0 for a in analyses]  # a reused face costs no classification
    assert reused == [False, True] * 4
    every = recognizer.stream(full_every=100, classify_every=1).analyze_many(frames)
    for i, (a, b) in enumerate(zip(analyses, every)):
        assert a.faces[0].box == b.faces[0].box
        expected = analyses[i - 1] if reused[i] else b  # the frame before's probabilities, or its own
        assert a.faces[0].probabilities == expected.faces[0].probabilities
    batched = recognizer.stream(full_every=100).analyze_many(frames)  # in one batch: the same
    assert [a.faces[0].probabilities for a in batched] == [a.faces[0].probabilities for a in analyses]
