"""Hostile input through ``EmotionRecognizer.analyze``: unusable bytes and files, arrays without pixels or of
unusable types, non-finite floats, extreme aspect ratios with every detector, Pillow modes, seeded mutations of
every image format, paths that are no regular file, objects that are no image.

Each probe gets a result (for an image that can be used, with or without faces) or ``ImageInputError`` with a
one-line reason; never an OpenCV error, a Pillow error or any other exception. Afterwards the recognizer still
finds the astronaut's face.
"""

from __future__ import annotations

import os
import re
import warnings

import cv2
import numpy as np
import pytest
from PIL import Image

from serving_demo.detectors import DETECTORS
from serving_demo.image_io import ImageInputError
from tests.hostile.hostile_files import encoded, float_tiff, hostile_images, mutated, photo_jpeg, wide_png
from tests.images import astronaut

HOSTILE = hostile_images()
EXIF_ROTATED = Image.Exif()
EXIF_ROTATED[0x0112] = 6  # orientation: stored turned, shown upright


def assert_clear(message: str) -> None:
    """A reason a user can read: one line, not empty, no Python internals."""
    assert message and "\n" not in message and len(message) < 400, message
    assert "Traceback" not in message and "cv2.error" not in message, message


def refusal(call) -> str:
    """The message of the ``ImageInputError`` that ``call()`` raises (any other exception fails the test)."""
    with pytest.raises(ImageInputError) as raised:
        call()
    assert_clear(str(raised.value))
    return str(raised.value)


def result_or_refusal(call):
    """``call()``'s result, or the message of the ``ImageInputError`` it raised; any other exception propagates."""
    try:
        return call()
    except ImageInputError as e:
        assert_clear(str(e))
        return str(e)


def assert_recognizer_works(recognizer) -> None:
    analysis = recognizer.analyze(photo_jpeg())
    assert len(analysis.faces) == 1


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_unusable_bytes_and_files_are_refused_with_their_reason(recognizer, tmp_path, name):
    data, reason = HOSTILE[name]
    assert re.search(reason, refusal(lambda: recognizer.analyze(data)))
    path = tmp_path / name
    path.write_bytes(data)
    message = refusal(lambda: recognizer.analyze(path))
    assert re.search(reason, message) and name in message, message  # a file's reason names it
    assert_recognizer_works(recognizer)


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 0), (0, 5, 3), (5, 0), (0,), (1, 0, 3)])
def test_arrays_without_pixels_are_refused(recognizer, shape):
    assert "empty" in refusal(lambda: recognizer.analyze(np.zeros(shape, np.uint8)))


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4, 4, 5), np.uint8),
        np.zeros((2, 4, 4, 3), np.uint8),
        np.zeros(16, np.uint8),
        np.array(7, np.uint8),
        np.zeros((4, 4, 3), np.int64),
        np.zeros((4, 4, 3), bool),
        np.zeros((4, 4, 3), np.complex64),
        np.full((4, 4), None, object),
        np.full((4, 4), "x"),
    ],
    ids=["2-channels", "5-channels", "4-d", "1-d", "scalar", "int64", "bool", "complex", "object", "strings"],
)
def test_arrays_of_unusable_shape_or_type_are_refused(recognizer, array):
    assert "Unsupported" in refusal(lambda: recognizer.analyze(array))


def test_a_float_image_with_nan_pixels_is_refused(recognizer):
    """NaN pixels are garbage, not black: casting them to uint8 is undefined (NumPy warns "invalid value encountered
    in cast", and the result depends on the CPU). The image is refused instead, and no NumPy warning leaks out."""
    image = astronaut().astype(np.float32) / 255
    image[100:200, 100:200] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refusal(lambda: recognizer.analyze(image))


@pytest.mark.parametrize(
    "image",
    [
        np.full((1, 1, 3), 200, np.uint8),
        np.full((1, 1), 200, np.uint8),
        np.full((2, 2, 4), 60000, np.uint16),
        np.full((3, 3, 1), 0.5, np.float16),
        (astronaut() / 255.0) * 9 - 4,  # float64 far outside [0, 1]: clipped
        np.where(astronaut() > 128, np.inf, -np.inf),  # infinities are out of range too: clipped
        astronaut()[::-1, ::-2],  # a non-contiguous view
        np.dstack([astronaut(), np.zeros((512, 512), np.uint8)]),  # fully transparent
    ],
    ids=[
        "1x1-rgb",
        "1x1-gray",
        "rgba-16bit",
        "float16",
        "float-out-of-range",
        "infinities",
        "strided-view",
        "transparent",
    ],
)
def test_tiny_strided_and_odd_dtype_arrays_give_a_result(recognizer, image):
    view = image.view()
    view.flags.writeable = False  # a read-only array (a frame from another library) is fine too
    analysis = recognizer.analyze(view)
    assert analysis.image.dtype == np.uint8 and analysis.image.shape[2] == 3


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16_bit_files_with_and_without_alpha_give_a_result(recognizer, channels):
    face = astronaut()[..., ::-1] if channels > 1 else cv2.cvtColor(astronaut(), cv2.COLOR_RGB2GRAY)
    if channels == 4:
        face = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    ok, png = cv2.imencode(".png", face.astype(np.uint16) * 257)  # 16 bits a channel, BGR(A) as OpenCV writes it
    assert ok
    analysis = recognizer.analyze(png.tobytes())
    assert len(analysis.faces) == 1 and analysis.image.dtype == np.uint8


@pytest.mark.parametrize("detector", sorted(DETECTORS))
@pytest.mark.parametrize("height,width", [(1, 5000), (5000, 1), (1, 2000), (2000, 2), (3, 3000)])
def test_extreme_aspect_ratios_give_a_result_or_a_refusal_with_every_detector(recognizer, detector, height, width):
    """A line of pixels is no photo of a face, but it must not reach OpenCV as a zero-sized resize."""
    for image in (np.full((height, width, 3), 128, np.uint8), wide_png(width, height)):
        outcome = result_or_refusal(lambda image=image: recognizer.analyze(image, detector=detector))
        assert isinstance(outcome, str) or outcome.faces == []


@pytest.mark.parametrize("mode", ["F", "I", "I;16", "I;16B", "1", "L", "LA", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"])
def test_every_pillow_mode_gives_a_result_or_a_refusal(recognizer, mode):
    gray = np.asarray(Image.fromarray(astronaut()).convert("L"))
    if mode == "F":
        image = Image.fromarray(gray.astype(np.float32) / 255, "F")
    elif mode == "I":
        image = Image.fromarray(gray.astype(np.int32) * 70000, "I")  # values past 16 bits
    elif mode.startswith("I;16"):
        image = Image.fromarray(gray.astype(np.uint16) * 257, "I;16").convert(mode) if mode != "I;16" else None
        image = image or Image.fromarray(gray.astype(np.uint16) * 257, "I;16")
    else:
        image = Image.fromarray(astronaut()).convert(mode)
    result_or_refusal(lambda: recognizer.analyze(image))


def test_a_float_tiff_gives_a_result_or_a_refusal(recognizer):
    result_or_refusal(lambda: recognizer.analyze(float_tiff()))


@pytest.mark.parametrize(
    "fmt,options",
    [
        ("PNG", {}),
        ("JPEG", {"exif": EXIF_ROTATED}),
        ("GIF", {}),
        ("BMP", {}),
        ("TIFF", {"compression": "tiff_deflate"}),
        ("WEBP", {"lossless": True}),
        ("ICO", {}),
        ("TGA", {}),
    ],
)
def test_seeded_mutations_of_every_format_give_a_result_or_a_refusal(recognizer, fmt, options):
    """Bytes overwritten at 40 seeded places (or the file cut short): each copy decodes, or is refused."""
    original = encoded(astronaut()[100:164, 190:254], fmt, **options)
    for copy in mutated(original, 40, seed=sum(map(ord, fmt))):
        result_or_refusal(lambda copy=copy: recognizer.analyze(copy, detector="haar"))
    assert_recognizer_works(recognizer)


def test_paths_that_are_no_regular_file_are_refused_without_waiting(recognizer, tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it would wait for a writer for ever
    (tmp_path / "folder.jpg").mkdir()
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    for path in ["pipe.jpg", "folder.jpg", "loop.jpg", "dangling.jpg", "gone.jpg"]:
        assert "No file at" in refusal(lambda path=path: recognizer.analyze(tmp_path / path))
    for text in ["/dev/zero", "/dev/null", "http://127.0.0.1:1/photo.jpg", "file:///etc/passwd", ""]:
        refusal(lambda text=text: recognizer.analyze(text))


@pytest.mark.parametrize("thing", [None, 42, 4.2, [[1, 2], [3, 4]], {"path": "/etc/passwd"}, bytearray(b"\xff\xd8")])
def test_objects_that_are_no_image_are_refused(recognizer, thing):
    assert "Cannot read an image" in refusal(lambda: recognizer.analyze(thing))


@pytest.mark.parametrize(
    "selection",
    [{"backend": "../../etc/passwd"}, {"backend": "keras\x00"}, {"detector": "haar; rm -rf /"}, {"detector": ""}],
)
def test_unknown_backends_and_detectors_are_refused_naming_the_choices(recognizer, selection):
    with pytest.raises(ValueError, match="Unknown .*choose from|Unknown backend") as raised:
        recognizer.analyze(photo_jpeg(), **selection)
    assert_clear(str(raised.value))
    assert_recognizer_works(recognizer)
