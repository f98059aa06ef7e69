"""Test-time augmentation: one model run on several views of a face (mirror image, crops), probabilities averaged.

Facial expressions are close to left-right symmetric and the models train on randomly mirrored,
shifted and zoomed faces, so averaging over a face's mirror image and a few crops of it removes
some of the model's variance, at one inference pass per view. The wrapped model is an ordinary
Keras model: it saves, exports to SavedModel and TFLite, and quantizes like the model it wraps.
"""

from __future__ import annotations

import keras

# The crops: the centre and the four corners, each ``CROP_FRACTION`` of the face's side (42 of 48 pixels),
# given as (top, left) fractions of the room left around the crop. The model's preprocessing resizes each
# crop back to its input size, so a crop is a zoom by 1/CROP_FRACTION (1.14) and a shift of up to 6 %: close
# to what training augments (zoom and shift of 10 %).
CROP_FRACTION = 0.875
CROP_PLACES = {
    "centre": (0.5, 0.5),
    "top_left": (0.0, 0.0),
    "top_right": (0.0, 1.0),
    "bottom_left": (1.0, 0.0),
    "bottom_right": (1.0, 1.0),
}


@keras.saving.register_keras_serializable(package="fer")
class HorizontalFlip(keras.layers.Layer):
    """Mirror (N, H, W, C) images left to right, always (unlike ``RandomFlip``, at inference too)."""

    def call(self, images):
        return keras.ops.flip(images, axis=2)


@keras.saving.register_keras_serializable(package="fer")
class FaceCrop(keras.layers.Layer):
    """A fixed crop of (N, H, W, C) images: ``fraction`` of each side, at (``top``, ``left``) fractions of the room
    left around it (0: at the top or left edge, 1: at the bottom or right edge).

    Args:
        fraction: The crop's side as a fraction of the image's, in (0, 1].
        top, left: Where the crop sits, each in [0, 1].
    """

    def __init__(self, fraction: float = CROP_FRACTION, top: float = 0.5, left: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < fraction <= 1.0 or not 0.0 <= top <= 1.0 or not 0.0 <= left <= 1.0:
            raise ValueError(
                f"FaceCrop needs fraction in (0, 1], top and left in [0, 1]; got {fraction}, {top}, {left}"
            )
        self.fraction, self.top, self.left = float(fraction), float(top), float(left)

    def call(self, images):
        # Static sizes where the graph knows them (a fixed input signature): plain slices, which TFLite runs fastest.
        height, width = images.shape[1], images.shape[2]
        if height is None or width is None:
            shape = keras.ops.shape(images)
            height, width = shape[1], shape[2]
        rows, cols = self._span(height, self.top), self._span(width, self.left)
        return images[:, rows[0] : rows[1], cols[0] : cols[1], :]

    def _span(self, size, where: float):
        if isinstance(size, int):
            side = max(1, round(size * self.fraction))
            start = round((size - side) * where)
            return start, start + side
        size = keras.ops.cast(size, "float32")
        side = keras.ops.maximum(1.0, keras.ops.round(size * self.fraction))
        start = keras.ops.round((size - side) * where)
        return keras.ops.cast(start, "int32"), keras.ops.cast(start + side, "int32")

    def compute_output_shape(self, input_shape):
        n, height, width, channels = input_shape
        side = lambda size: None if size is None else max(1, round(size * self.fraction))  # noqa: E731
        return (n, side(height), side(width), channels)

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction, "top": self.top, "left": self.left}


def with_test_time_augmentation(model: keras.Model, flip: bool = True, crops: bool = False) -> keras.Model:
    """A model returning the mean of ``model``'s outputs over views of its input.

    Args:
        model: A zoo model (uint8 (N, H, W, C) images -> (N, classes) probabilities).
        flip: Add each view's mirror image (2x the passes).
        crops: Replace the face by five crops of it, the centre and the corners, each ``CROP_FRACTION`` of its
            side (5x the passes; 10x with ``flip``).

    Returns:
        A new ``keras.Model`` sharing ``model``'s layers and weights, named ``<name>_flip_averaged``,
        ``<name>_crop_averaged`` or ``<name>_flip_crop_averaged``.

    Raises:
        ValueError: if neither ``flip`` nor ``crops`` is asked for.
    """
    if not (flip or crops):
        raise ValueError("test-time augmentation needs flip, crops or both")
    inputs = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype, name="image")
    views = (
        [FaceCrop(CROP_FRACTION, top, left, name=f"crop_{place}")(inputs) for place, (top, left) in CROP_PLACES.items()]
        if crops
        else [inputs]
    )
    if flip:
        views += [HorizontalFlip(name=f"mirror_{i}")(view) for i, view in enumerate(views)]
    outputs = keras.layers.Average(name="view_averaged")([model(view) for view in views])
    kind = "_".join(k for k, on in (("flip", flip), ("crop", crops)) if on)
    return keras.Model(inputs, outputs, name=f"{model.name}_{kind}_averaged")
