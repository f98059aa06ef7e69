"""Test-time augmentation inside the graph: crops and mirror images of a face, probabilities averaged."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from model_zoo import create_model, load_model
from model_zoo.test_time_augmentation import FaceCrop, with_test_time_augmentation


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(3)
    return create_model("seed_cnn_tiny")


def _faces(n=4, height=48, width=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 1), dtype=np.uint8)


@pytest.mark.parametrize(("height", "width"), [(48, 48), (60, 80)])
def test_face_crop_cuts_the_same_pixels_with_known_and_unknown_sizes(height, width):
    faces = _faces(height=height, width=width)
    side_h, side_w = round(height * 0.875), round(width * 0.875)
    want = faces[:, height - side_h :, :side_w]  # the bottom-left corner
    static = FaceCrop(0.875, top=1.0, left=0.0)(faces)
    inputs = keras.Input((None, None, 1), dtype="uint8")
    dynamic = keras.Model(inputs, FaceCrop(0.875, top=1.0, left=0.0)(inputs)).predict_on_batch(faces)
    np.testing.assert_array_equal(np.asarray(static), want)
    np.testing.assert_array_equal(np.asarray(dynamic), want)


def test_face_crop_refuses_places_outside_the_face():
    with pytest.raises(ValueError, match="fraction in"):
        FaceCrop(1.5)
    with pytest.raises(ValueError, match="top and left in"):
        FaceCrop(0.9, top=-0.1)


@pytest.mark.parametrize(("flip", "crops", "name"), [(True, False, "flip"), (False, True, "crop")])
def test_the_wrapper_averages_its_views_and_survives_a_save(tiny, tmp_path, flip, crops, name):
    faces = _faces()
    wrapped = with_test_time_augmentation(tiny, flip=flip, crops=crops)
    assert wrapped.name == f"{tiny.name}_{name}_averaged"
    if flip:
        want = (tiny.predict_on_batch(faces) + tiny.predict_on_batch(faces[:, :, ::-1])) / 2
    else:
        corners = ((3, 3), (0, 0), (0, 6), (6, 0), (6, 6))
        want = np.mean([tiny.predict_on_batch(faces[:, t : t + 42, c : c + 42]) for t, c in corners], axis=0)
    np.testing.assert_allclose(wrapped.predict_on_batch(faces), want, atol=1e-6)
    assert sum(isinstance(layer, FaceCrop) for layer in wrapped.layers) == (5 if crops else 0)
    wrapped.save(tmp_path / "tta.keras")
    np.testing.assert_allclose(load_model(tmp_path / "tta.keras").predict_on_batch(faces), want, atol=1e-6)


def test_the_wrapper_needs_a_view(tiny):
    with pytest.raises(ValueError, match="flip, crops or both"):
        with_test_time_augmentation(tiny, flip=False, crops=False)
