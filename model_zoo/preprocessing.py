"""The in-graph preprocessing shared by every model in the zoo.

Putting preprocessing inside the graph means a trained model takes the same
thing a camera or an image file gives (uint8 pixels, any size, gray or RGB)
and nothing on the Python side can drift out of step with training.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from model_zoo.constants import FACE_SIZE

# ITU-R BT.601 luma weights, the same ones OpenCV's and PIL's RGB->gray use.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)


_CHANNELS_MESSAGE = "FacePreprocessing takes images with 1 (gray) or 3 (RGB) channels; convert RGBA to RGB first. Got:"


def _check_channels(channels: int | None) -> None:
    if channels is not None and channels not in (1, 3):
        raise ValueError(f"{_CHANNELS_MESSAGE} {channels}")


@keras.saving.register_keras_serializable(package="fer")
class FacePreprocessing(keras.layers.Layer):
    """uint8 image(s) of any size with 1 or 3 channels -> float32 (H, W, 1) in [0, 1].

    The layer has no weights. It converts RGB to gray with BT.601 weights,
    resizes bilinearly to ``(height, width)`` and rescales by 1/255. The
    channel count may be unknown when the graph is built; it is then decided
    per call.

    Args:
        height: Output height in pixels.
        width: Output width in pixels.
    """

    def __init__(self, height: int = FACE_SIZE, width: int = FACE_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.height = int(height)
        self.width = int(width)

    def build(self, input_shape):
        _check_channels(input_shape[-1])
        super().build(input_shape)

    def call(self, images):
        x = tf.cast(images, tf.float32)
        channels = x.shape[-1]
        _check_channels(channels)
        if channels == 1:
            gray = x
        elif channels == 3:
            gray = self._rgb_to_gray(x)
        else:  # known only when the graph runs
            n = tf.shape(x)[-1]
            with tf.control_dependencies([tf.debugging.Assert(tf.logical_or(n == 1, n == 3), [_CHANNELS_MESSAGE, n])]):
                gray = tf.cond(n == 3, lambda: self._rgb_to_gray(x), lambda: x[..., :1])
        if x.shape[-3] != self.height or x.shape[-2] != self.width:
            gray = tf.image.resize(gray, (self.height, self.width), method="bilinear")
        return gray / 255.0

    @staticmethod
    def _rgb_to_gray(x):
        return tf.reduce_sum(x * tf.constant(_LUMA_WEIGHTS, tf.float32), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-3], self.height, self.width, 1)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
