"""A stream's frames: a video's BGR frames take a fast path that gives exactly ``load_image``'s pixels."""

import numpy as np
import pytest

from serving_demo.face_stream import frame_to_rgb
from serving_demo.image_io import ImageInputError, load_image


def test_a_video_frame_becomes_the_same_rgb_image_as_load_image_makes_of_it():
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    views = [frame, frame[:, ::-1], np.asfortranarray(frame), frame[::2, ::3], frame.transpose(1, 0, 2)]
    for view in views:
        rgb = frame_to_rgb(view, "bgr")
        assert np.array_equal(rgb, load_image(view, "bgr")) and rgb.flags["C_CONTIGUOUS"]
    for other in (frame[..., 0], frame.astype(np.float32) / 255, np.dstack([frame, frame[..., :1]])):
        assert np.array_equal(frame_to_rgb(other, "bgr"), load_image(other, "bgr"))  # the general path
    assert np.array_equal(frame_to_rgb(frame), load_image(frame))
    with pytest.raises(ImageInputError, match="empty"):
        frame_to_rgb(np.zeros((0, 5, 3), np.uint8), "bgr")
