"""Test-time flip averaging: one model, run on an image and on its mirror image, probabilities averaged.

Facial expressions are close to left-right symmetric and the models train on randomly
mirrored faces, so averaging the two views removes some of the model's variance at twice
the inference cost. The wrapped model is an ordinary Keras model: it saves, exports to
SavedModel and TFLite, and quantizes like the model it wraps.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="fer")
class HorizontalFlip(keras.layers.Layer):
    """Mirror (N, H, W, C) images left to right, always (unlike ``RandomFlip``, at inference too)."""

    def call(self, images):
        return keras.ops.flip(images, axis=2)


def with_flip_averaging(model: keras.Model) -> keras.Model:
    """A model returning the mean of ``model``'s outputs on the input and on its mirror image.

    Args:
        model: A zoo model (uint8 (N, H, W, C) images -> (N, classes) probabilities).

    Returns:
        A new ``keras.Model`` sharing ``model``'s layers and weights, named ``<name>_flip_averaged``.
    """
    inputs = keras.Input(shape=model.input_shape[1:], dtype=model.inputs[0].dtype, name="image")
    mirrored = HorizontalFlip(name="mirror")(inputs)
    outputs = keras.layers.Average(name="flip_averaged")([model(inputs), model(mirrored)])
    return keras.Model(inputs, outputs, name=f"{model.name}_flip_averaged")
