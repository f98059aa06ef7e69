"""SavedModel and TFLite export, parity checks, predictors and the benchmark."""
