import numpy as np
import pytest
from PIL import Image

from serving_demo.image_io import MAX_SIDE, ImageInputError, load_image
from tests.images import astronaut, write_bad_inputs


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return write_bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    "name,message",
    [
        ("not_an_image.png", "not an image that can be decoded"),
        ("empty.jpg", "is empty \\(0 bytes\\)"),
        ("truncated.jpg", "not an image that can be decoded"),
        ("bomb_12000x12000.png", "12000x12000 pixels, more than the 100 megapixels"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(bad_inputs, name, message):
    with pytest.raises(ImageInputError, match=message):
        load_image(bad_inputs[name])


def test_awkward_images_are_converted(bad_inputs):
    gray = load_image(bad_inputs["gray.png"])
    assert gray.shape == (512, 512, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    rgba = load_image(bad_inputs["rgba.png"])
    assert rgba.shape == (512, 512, 3) and (rgba[:50, :50] == 255).all()  # transparent corner on white
    gray16 = load_image(bad_inputs["gray16.png"])
    assert gray16.dtype == np.uint8 and abs(int(gray16.mean()) - int(astronaut().mean(axis=2).mean())) <= 2
    huge = load_image(bad_inputs["huge_8000x8000.png"])
    assert huge.shape == (MAX_SIDE, MAX_SIDE, 3)


def test_exif_orientation_is_applied(bad_inputs):
    upright = load_image(bad_inputs["exif_rotated.jpg"])
    stored = np.asarray(Image.open(bad_inputs["exif_rotated.jpg"]))
    # The stored pixels are rotated; the loaded ones match the original photo again.
    assert np.abs(upright.astype(int) - astronaut().astype(int)).mean() < 6
    assert np.abs(stored.astype(int) - astronaut().astype(int)).mean() > 30


def test_numpy_arrays_of_every_kind():
    rgb = astronaut()
    np.testing.assert_array_equal(load_image(rgb), rgb)
    np.testing.assert_array_equal(load_image(rgb[..., ::-1].copy(), channel_order="bgr"), rgb)
    assert load_image(rgb[..., 0]).shape == (512, 512, 3)
    assert load_image(rgb.astype(np.float32) / 255).dtype == np.uint8
    assert load_image(rgb.astype(np.uint16) * 257).dtype == np.uint8
    with pytest.raises(ImageInputError, match="Unsupported image shape"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageInputError, match="empty"):
        load_image(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ImageInputError, match="No file"):
        load_image("/nonexistent/photo.jpg")
