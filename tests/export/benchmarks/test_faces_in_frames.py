"""The faces-in-frames benchmark and the crop framing calibrated on it, with a real face (the astronaut's)."""

import cv2
import numpy as np
import pytest

from export.benchmarks.faces_in_frames import (
    FRAME_SIZE,
    format_faces_in_frames,
    make_faces_in_frames,
    match_boxes,
    measure_framing,
    run_faces_in_frames,
)
from serving_demo.detectors import Box, Detection, make_detector
from serving_demo.face_crops import IDENTITY, Framing, crop_square, face_crop, face_crops
from tests.images import astronaut


def framed_astronaut(side: int = 130) -> np.ndarray:
    """The astronaut's face framed as FER2013 frames faces (forehead to chin), as a 48x48 gray face."""
    gray = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2GRAY)
    x, y = 225 - side // 2, 118 - side // 2
    return cv2.resize(gray[y : y + side, x : x + side], (48, 48), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def pasted():
    faces = np.stack([framed_astronaut()] * 24)[..., None]
    return make_faces_in_frames(faces, np.arange(24) % 7, seed=3, max_rotation=0, brightness=(1, 1))


def test_frames_hold_every_face_once_inside_and_apart(pasted):
    assert sorted(i for ids in pasted.face_ids for i in ids) == list(range(24))
    for frame, boxes in zip(pasted.frames, pasted.boxes):
        assert frame.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3) and frame.dtype == np.uint8
        assert 1 <= len(boxes) <= 2
        for x, y, w, h in boxes:
            assert w == h and 90 <= w <= 220 and x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480
        if len(boxes) == 2:
            (ax, ay, aw, _), (bx, by, bw, _) = boxes
            assert ax + aw <= bx or bx + bw <= ax or ay + aw <= by or by + bw <= ay
    # The pasted square holds the face: scaled back down it is the face again.
    x, y, w, _ = pasted.boxes[0][0]
    back = cv2.resize(
        cv2.cvtColor(pasted.frames[0], cv2.COLOR_RGB2GRAY)[y : y + w, x : x + w], (48, 48), interpolation=cv2.INTER_AREA
    )
    assert np.corrcoef(back.ravel(), framed_astronaut().ravel())[0, 1] > 0.95


def test_the_same_seed_makes_the_same_frames():
    faces = np.stack([framed_astronaut()] * 3)[..., None]
    a, b = (make_faces_in_frames(faces, np.zeros(3), seed=5) for _ in range(2))
    assert a.boxes == b.boxes and all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert make_faces_in_frames(faces, np.zeros(3), seed=6).boxes != a.boxes


def test_matching_needs_the_centre_inside_and_a_similar_size():
    truth = [(100, 100, 100, 100), (300, 100, 100, 100)]
    found = [(310, 110, 80, 80), (120, 120, 70, 70), (0, 0, 50, 50), (140, 140, 20, 20)]
    assert sorted(match_boxes(found, truth)) == [(0, 1), (1, 0)]  # the 20 px box is too small; (0, 0) is outside


def test_calibrated_framing_cuts_out_the_face_as_it_was_pasted(pasted):
    detector = make_detector("blazeface")
    by_reference = {r["reference"]: r for r in measure_framing(pasted, detector)}
    assert by_reference["box"]["faces"] >= 20 and set(by_reference) == {"box", "eyes_mouth"}
    framings = {name: Framing(r["dx"], r["dy"], r["scale"], name) for name, r in by_reference.items()}
    assert framings["box"].scale > 1.05  # BlazeFace's box is tighter than FER2013's frame
    frame = make_faces_in_frames(pasted.faces[:1], np.zeros(1), seed=11, max_rotation=0, brightness=(1, 1))
    image, truth = frame.frames[0], frame.boxes[0][0]
    found = detector.detect(image)[0]
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

    def similarity(framing):
        return np.corrcoef(face_crop(gray, found, framing).ravel(), framed_astronaut().ravel())[0, 1]

    # One frame's keypoints move the eyes-and-mouth crop by a pixel or two: 0.87-0.94 here.
    assert similarity(framings["eyes_mouth"]) > 0.85 and similarity(framings["box"]) > 0.9
    assert similarity(framings["box"]) > similarity(IDENTITY) + 0.05
    cx, cy, side = crop_square(found, framings["eyes_mouth"])
    assert abs(cx - truth[0] - truth[2] / 2) < 0.1 * truth[2] and abs(side / truth[2] - 1) < 0.15


def test_crops_beyond_the_edge_repeat_the_edge_and_keep_the_size():
    gray = np.tile(np.arange(100, dtype=np.uint8), (80, 1))
    edge = Detection(Box(-20, -20, 60, 60))
    crop = face_crop(gray, edge, Framing(scale=1.5))
    assert crop.shape == (48, 48) and crop[:, 0].max() == 0  # left of the image: the edge column (0) repeated
    assert face_crops(gray, []).shape == (0, 48, 48, 1)


@pytest.mark.slow
def test_the_benchmark_scores_every_detector_against_naive_haar(exported):
    faces = np.stack([framed_astronaut()] * 12)[..., None]
    record = run_faces_in_frames(exported.out_dir, faces, np.full(12, 3), ("blazeface", "haar"), "tflite-int8")
    names = [r["detector"] for r in record["results"]]
    assert names == ["blazeface", "haar", "haar-naive"]
    best = record["results"][0]
    assert best["recall"] >= 0.9 and best["false_boxes_per_frame"] <= 0.2
    assert best["e2e_accuracy"] <= best["recall"] and 0 < best["detect_ms_p50"] < best["frame_ms_p50"]
    assert record["frame_speedup_vs_naive"] > 1 and 0 < record["detect_time_vs_haar"] < 1
    assert sum(r["faces"] for r in record["recall_by_face"] if r["attribute"] == "side") == 12
    table = format_faces_in_frames(record)
    assert "haar-naive" in table and "recall" in table and "blazeface recall by face" in table
