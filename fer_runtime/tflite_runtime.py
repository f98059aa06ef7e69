"""The project's one TFLite loader: LiteRT first, then tflite_runtime, then tf.lite."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

RUNTIMES = ("ai_edge_litert", "tflite_runtime", "tensorflow.lite")


def load_tflite_interpreter(path: str | Path, num_threads: int | None = None, runtime: str | None = None):
    """Create an allocated TFLite interpreter for the model at ``path``.

    Tries LiteRT (``ai_edge_litert``, the maintained runtime), then
    ``tflite_runtime`` (unmaintained since 2.14 and broken under NumPy 2), then
    ``tf.lite`` (deprecated), and logs which one it used.

    Args:
        path: A ``.tflite`` file.
        num_threads: CPU threads for the interpreter (None: the runtime's default).
        runtime: Force one of ``RUNTIMES`` instead of trying them in order.

    Returns:
        ``(interpreter, runtime_name)``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ImportError: if no runtime can be imported (or the forced one cannot).
        ValueError: if the file is not a valid TFLite model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No TFLite model at {path}")
    errors = []
    for name in [runtime] if runtime else RUNTIMES:
        try:
            interpreter_class = _interpreter_class(name)
        except Exception as e:  # an import can fail in many ways (NumPy ABI, missing wheel)
            errors.append(f"{name}: {e}")
            continue
        try:
            interpreter = interpreter_class(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ValueError(f"{path} is not a TFLite model this runtime can load ({name}: {e})") from e
        log.info("Loaded %s with %s", path.name, name)
        return interpreter, name
    raise ImportError("No TFLite runtime could be imported; pip install ai-edge-litert. Tried: " + "; ".join(errors))


def _interpreter_class(name: str):
    if name == "ai_edge_litert":
        from ai_edge_litert.interpreter import Interpreter
    elif name == "tflite_runtime":
        from tflite_runtime.interpreter import Interpreter
    elif name == "tensorflow.lite":
        import tensorflow as tf

        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        Interpreter = tf.lite.Interpreter  # noqa: N806
    else:
        raise ValueError(f"Unknown TFLite runtime {name!r}; choose from {RUNTIMES}")
    return Interpreter
