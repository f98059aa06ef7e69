"""Moved to ``model_zoo.artifacts`` (the artifact table); these names stay so that existing imports keep working."""

from model_zoo.artifacts import FACES_SIGNATURE, OUTPUT_KEY, SERVING_SIGNATURE, TFLITE_ARTIFACTS, tflite_artifact

VARIANTS = tuple(a.tflite_variant for a in TFLITE_ARTIFACTS)
QUANTIZED_VARIANTS = tuple(a.tflite_variant for a in TFLITE_ARTIFACTS if a.parity == "int8")


def tflite_filename(variant: str) -> str:
    """``model_<variant>.tflite``: the file of the TFLite artifact made with ``variant``."""
    return tflite_artifact(variant).file


__all__ = ["FACES_SIGNATURE", "OUTPUT_KEY", "QUANTIZED_VARIANTS", "SERVING_SIGNATURE", "VARIANTS", "tflite_filename"]
