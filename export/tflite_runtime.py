"""Moved to ``fer_runtime.tflite_runtime``; this name stays so that existing imports keep working."""

from fer_runtime.tflite_runtime import RUNTIMES, load_tflite_interpreter

__all__ = ["RUNTIMES", "load_tflite_interpreter"]
