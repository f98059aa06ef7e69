"""Mixed-precision training and float32 models out of it.

On CPUs with AVX512-BF16 (and on recent GPUs) ``mixed_bfloat16`` computes convolutions in
bfloat16 while keeping the weights in float32; ``mixed_float16`` is the GPU counterpart.
The models a run saves are always float32 copies, so export, evaluation and serving never
see a reduced-precision graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Build layers under the Keras dtype policy ``name`` inside the block; restore the previous one after.

    Raises:
        ValueError: if ``name`` is not one of ``PRECISIONS``.
    """
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` itself if every layer computes in float32, else a float32 clone with the same weights.

    Mixed-precision layers keep float32 weights, so the copy loses nothing.
    """
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model

    def as_float32(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    with dtype_policy("float32"):
        clone = keras.models.clone_model(model, clone_function=as_float32)
    clone.set_weights(model.get_weights())
    return clone
