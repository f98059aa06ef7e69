"""Mixed-precision training and float32 models out of it.

On CPUs with AVX512-BF16 (and on recent GPUs) ``mixed_bfloat16`` computes convolutions in
bfloat16 while keeping the weights in float32; ``mixed_float16`` is the GPU counterpart.
The models ``fer-train`` saves are float32 copies, so export, evaluation and serving never
see a reduced-precision graph (Keras Tuner's own trial checkpoints keep the trial's policy).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# Keras dtype policies fer-train and fer-tune accept.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")

# CPU flags (as /proc/cpuinfo spells them) of native bfloat16 arithmetic.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bfloat16(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16).

    Without them TensorFlow emulates bfloat16 and ``mixed_bfloat16`` is slower than float32.

    Args:
        cpuinfo: The text of ``/proc/cpuinfo``; read from the system when None.

    Returns:
        True or False; None where the flags cannot be read (not Linux).
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    flag_lines = (line.split(":", 1)[-1] for line in cpuinfo.splitlines() if line.startswith("flags"))
    flags = {flag for line in flag_lines for flag in line.split()}
    if not flags:
        return None
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Build layers under the Keras dtype policy ``name`` inside the block; restore the previous one after.

    Raises:
        ValueError: if ``name`` is not one of ``PRECISIONS``.
    """
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    import keras  # here: the precision names above are read by --help, which must not load TensorFlow

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` itself if every layer computes in float32, else an uncompiled float32 copy with its weights.

    Mixed-precision layers keep float32 weights, so the copy loses nothing but the training
    state (optimizer), which runs keep in their backups.

    Args:
        model: A functional zoo model (not a nested one).
    """
    import keras

    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] != "InputLayer":  # the input keeps its uint8
            layer["config"]["dtype"] = "float32"
    with dtype_policy("float32"):
        copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy
