"""Names of the exported artifacts, importable without TensorFlow (TFLite-only processes use it)."""

from __future__ import annotations

VARIANTS = ("float32", "float16", "dynamic", "int8")
QUANTIZED_VARIANTS = ("dynamic", "int8")
SERVING_SIGNATURE = "serving_default"  # uint8 images, any size, 1 or 3 channels
FACES_SIGNATURE = "faces_48x48"  # uint8 (N, 48, 48, 1) faces: what TFLite is converted from
OUTPUT_KEY = "probabilities"


def tflite_filename(variant: str) -> str:
    """``model_<variant>.tflite``."""
    return f"model_{variant}.tflite"
