"""A VGG13-style CNN for FER (after Barsoum et al. 2016, "Training Deep Networks for Facial Expression
Recognition with Crowd-Sourced Label Distribution"), sized to train on two CPU cores in hours.

Four blocks of 2, 2, 3 and 3 [Conv2D 3x3 -> BatchNorm -> ReLU] with 32, 64, 128 and 256 filters (half the
paper's widths), each block ending in MaxPool and Dropout; then Flatten -> Dense -> BatchNorm -> ReLU -> Dropout,
twice, and the softmax. On a 48x48 face that is ten convolutions and about 160 M multiply-adds (the seed CNN:
six and about 87 M), with 3.4 M parameters (1.5 M). BatchNorm comes before ReLU for the reason given in
``model_zoo.seed_cnn``: it folds into its own layer's output channels, which int8 quantizes per channel.
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
def vgg13(
    input_shape: tuple[int | None, int | None, int | None] = (None, None, None),
    num_classes: int = NUM_CLASSES,
    filters: Sequence[int] = (32, 64, 128, 256),
    convs: Sequence[int] = (2, 2, 3, 3),
    conv_dropout: float = 0.25,
    dense_units: Sequence[int] = (512, 512),
    dense_dropout: float = 0.5,
    l2: float = 0.0,
    face_size: int = FACE_SIZE,
    name: str = "vgg13",
) -> keras.Model:
    """Build the VGG13-style CNN with its preprocessing inside the graph.

    Args:
        input_shape: (height, width, channels) of the uint8 input; any entry may be None (any size, 1 or 3
            channels).
        num_classes: Number of output classes.
        filters: Filters of each convolution block.
        convs: Convolutions in each block (as many entries as ``filters``).
        conv_dropout: Dropout rate after each block.
        dense_units: Widths of the hidden dense layers.
        dense_dropout: Dropout rate after each hidden dense layer.
        l2: L2 weight decay on convolution and dense kernels (0 disables it).
        face_size: Side of the square face the preprocessing resizes to (48: FER2013's own; 64 as in the paper).
        name: Model name.

    Returns:
        An uncompiled ``keras.Model`` mapping uint8 images to class probabilities.

    Raises:
        ValueError: if ``filters`` and ``convs`` differ in length.
    """
    if len(filters) != len(convs):
        raise ValueError(f"filters {tuple(filters)} and convs {tuple(convs)} must have one entry per block")
    import keras  # here, not at the top: registering and listing models needs no TensorFlow

    from model_zoo.preprocessing import FacePreprocessing

    regularizer = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input(shape=input_shape, dtype="uint8", name="image")
    # Preprocessing and the softmax stay in float32 under a mixed-precision policy.
    x = FacePreprocessing(face_size, face_size, name="preprocessing", dtype="float32")(inputs)
    for block, (n_filters, n_convs) in enumerate(zip(filters, convs, strict=True), start=1):
        x = conv_block(x, block, n_filters, n_convs, conv_dropout, regularizer)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(dense_units, start=1):
        x = dense_block(x, f"dense{i}", units, dense_dropout, regularizer)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)
