"""TFLite conversion of the exported SavedModel: float32, float16, dynamic-range int8, full-integer int8."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from model_zoo.artifacts import FACES_SIGNATURE, TFLITE_VARIANTS


def convert_to_tflite(
    saved_model_dir: str | Path, variant: str, representative_faces: np.ndarray | None = None
) -> bytes:
    """Convert the ``faces_48x48`` signature of a SavedModel to TFLite.

    Every variant takes uint8 (N, 48, 48, 1) faces; ``int8`` also returns uint8
    probabilities (scale 1/256), the others float32.

    Args:
        saved_model_dir: A SavedModel written by ``export_saved_model``.
        variant: One of ``TFLITE_VARIANTS``.
        representative_faces: uint8 (N, 48, 48, 1) real training faces; required for ``int8``,
            which calibrates its activation ranges on them.

    Returns:
        The ``.tflite`` flatbuffer.

    Raises:
        ValueError: on an unknown variant, or ``int8`` without representative faces.
    """
    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"Unknown TFLite variant {variant!r}; choose from {TFLITE_VARIANTS}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[FACES_SIGNATURE])
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        if representative_faces is None or len(representative_faces) == 0:
            raise ValueError("Full-integer int8 conversion needs representative training faces")

        def representative_dataset() -> Iterator[dict[str, np.ndarray]]:
            for face in representative_faces:
                yield {"faces": face[None]}

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return converter.convert()
