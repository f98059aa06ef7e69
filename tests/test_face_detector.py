import numpy as np
import pytest

from serving_demo.face_detector import Box, FaceDetector
from tests.images import ASTRONAUT_FACE_CENTRE, astronaut, frame_640x480


def _contains(box: Box, point) -> bool:
    return box.x <= point[0] <= box.x + box.w and box.y <= point[1] <= box.y + box.h


def _iou(a: Box, b: Box) -> float:
    x1, y1 = max(a.x, b.x), max(a.y, b.y)
    x2, y2 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / (a.w * a.h + b.w * b.h - inter)


@pytest.mark.parametrize("detect_width", [None, 288])
def test_finds_the_astronauts_face_where_it_is(detect_width):
    boxes = FaceDetector(detect_width=detect_width).detect(astronaut())
    assert len(boxes) == 1
    assert _contains(boxes[0], ASTRONAUT_FACE_CENTRE)
    assert 70 <= boxes[0].w <= 130


def test_downscaled_search_finds_the_same_faces_as_the_naive_one_in_original_coordinates():
    frame = frame_640x480()
    naive = FaceDetector(scale_factor=1.1, min_neighbors=5, min_size=0, detect_width=None).detect(frame)
    fast = FaceDetector().detect(frame)
    assert len(naive) == len(fast) == 1
    assert _iou(naive[0], fast[0]) > 0.7


def test_gray_input_and_no_face():
    gray = astronaut().mean(axis=2).astype(np.uint8)
    assert len(FaceDetector().detect(gray)) == 1
    assert FaceDetector().detect(np.full((480, 640, 3), 127, np.uint8)) == []


def test_several_faces_are_found_largest_first():
    left = astronaut()
    two = np.concatenate([left, left[:, ::-1]], axis=1)
    boxes = FaceDetector().detect(two)
    assert len(boxes) == 2
    assert boxes[0].w * boxes[0].h >= boxes[1].w * boxes[1].h
    assert sorted(_contains(b, ASTRONAUT_FACE_CENTRE) for b in boxes) == [False, True]
