"""The blocks the zoo's CNNs are made of: [Conv2D -> BatchNorm -> ReLU] x n -> MaxPool -> Dropout, and
Dense -> BatchNorm -> ReLU -> Dropout.

BatchNorm comes before the ReLU: it then folds into its own layer's output channels, which int8 quantizes per
channel (``model_zoo.seed_cnn`` says what goes wrong the other way round). Layer names are
``block{i}_conv{j}``, ``block{i}_bn{j}``, ... and ``{name}``, ``{name}_bn``, ...: saved models keep them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


def conv_block(x, block: int, filters: int, convs: int, dropout: float, regularizer=None) -> keras.KerasTensor:
    """``convs`` [Conv2D 3x3 -> BatchNorm -> ReLU] with ``filters`` filters, then MaxPool 2 and Dropout.

    Args:
        x: The input tensor.
        block: The block's number, in its layers' names.
        filters: Filters of each convolution.
        convs: Convolutions in the block.
        dropout: Dropout rate after the pooling.
        regularizer: Kernel regularizer of the convolutions (None: none).

    Returns:
        The block's output tensor.
    """
    import keras

    for conv in range(1, convs + 1):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", kernel_regularizer=regularizer, name=f"block{block}_conv{conv}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
        x = keras.layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
    x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    return keras.layers.Dropout(dropout, name=f"block{block}_dropout")(x)


def dense_block(x, name: str, units: int, dropout: float, regularizer=None) -> keras.KerasTensor:
    """Dense(``units``) -> BatchNorm -> ReLU -> Dropout, named ``name``, ``name_bn``, ``name_relu``, ``name_dropout``.

    Args:
        x: The input tensor (flat).
        name: The Dense layer's name, and the others' prefix.
        units: Width of the layer.
        dropout: Dropout rate after the ReLU.
        regularizer: Kernel regularizer of the Dense layer (None: none).

    Returns:
        The block's output tensor.
    """
    import keras

    x = keras.layers.Dense(units, kernel_regularizer=regularizer, name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    return keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
