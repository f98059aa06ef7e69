"""The documented "seed CNN" for 48x48 FER2013 faces, and its tiny test variant.

Three blocks of [Conv2D -> BatchNorm, Conv2D -> BatchNorm, MaxPool, Dropout]
with 32, 64 and 128 filters, then Flatten -> Dense(256) -> BatchNorm ->
Dropout -> Dense(7, softmax). With a 48x48x1 input it has 1,469,543
trainable parameters (1,470,951 in all).

The ReLU of each layer comes after its BatchNorm (Conv -> BN -> ReLU). With the
ReLU first, BatchNorm follows a ReLU, and the TFLite converter folds its
per-channel scale into the *next* layer's input channels; channels the ReLU
leaves (nearly) dead get scales of ~30 there and swamp the int8 weight range:
measured on the seed CNN after 9 epochs on FER2013, dynamic-range and int8
TFLite then agreed with Keras on only 33 % of faces. With BN before ReLU it
folds into its own layer's output channels, which per-channel quantization
handles, and int8 agrees on 99 %+.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from model_zoo.constants import FACE_SIZE, NUM_CLASSES
from model_zoo.conv_blocks import conv_block, dense_block
from model_zoo.registry import register_model

if TYPE_CHECKING:
    import keras


@register_model
def seed_cnn(
    input_shape: tuple[int | None, int | None, int | None] = (None, None, None),
    num_classes: int = NUM_CLASSES,
    filters: Sequence[int] = (32, 64, 128),
    conv_dropout: float = 0.25,
    dense_units: int = 256,
    dense_dropout: float = 0.5,
    l2: float = 0.0,
    name: str = "seed_cnn",
) -> keras.Model:
    """Build the seed CNN with its preprocessing inside the graph.

    Args:
        input_shape: (height, width, channels) of the uint8 input; any entry may
            be None. The default takes any size with 1 or 3 channels.
        num_classes: Number of output classes.
        filters: Filters of the three convolution blocks.
        conv_dropout: Dropout rate after each convolution block.
        dense_units: Width of the hidden dense layer.
        dense_dropout: Dropout rate before the classifier.
        l2: L2 weight decay on convolution and dense kernels (0 disables it).
        name: Model name.

    Returns:
        An uncompiled ``keras.Model`` mapping uint8 images to class probabilities.
    """
    import keras  # here, not at the top: registering and listing models needs no TensorFlow

    from model_zoo.preprocessing import FacePreprocessing

    # === Layers ===
    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None

    # === Functional Model ===
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    # Preprocessing and the softmax stay in float32 under a mixed-precision policy.
    x = FacePreprocessing(FACE_SIZE, FACE_SIZE, name="preprocessing", dtype="float32")(inputs)
    for block, n_filters in enumerate(filters, start=1):
        x = conv_block(x, block, n_filters, 2, conv_dropout, regularizer)
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_block(x, "dense", dense_units, dense_dropout, regularizer)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


@register_model
def seed_cnn_tiny(**kwargs) -> keras.Model:
    """The seed CNN's shape at a few hundredth of its size, for tests and smoke runs."""
    kwargs.setdefault("filters", (4, 8, 8))
    kwargs.setdefault("dense_units", 16)
    kwargs.setdefault("name", "seed_cnn_tiny")
    return seed_cnn(**kwargs)
