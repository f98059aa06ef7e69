"""Moved to ``fer_runtime.predictors``; these names stay so that existing imports keep working."""

from fer_runtime.predictors import (
    KerasPredictor,
    Predictor,
    SavedModelPredictor,
    TFLitePredictor,
    load_backend,
    load_predictor,
    predict_in_batches,
)

__all__ = [
    "KerasPredictor",
    "Predictor",
    "SavedModelPredictor",
    "TFLitePredictor",
    "load_backend",
    "load_predictor",
    "predict_in_batches",
]
