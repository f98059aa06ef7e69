"""Loading saved ``.keras`` models of the zoo."""

from __future__ import annotations

from pathlib import Path

import keras

# Importing these modules registers FacePreprocessing, HorizontalFlip and FaceCrop with Keras, so plain
# keras.models.load_model works once this module (or model_zoo.load_model) has been imported.
# ``import model_zoo`` alone does not import it: that stays free of TensorFlow.
from model_zoo import preprocessing as _preprocessing  # noqa: F401
from model_zoo import test_time_augmentation as _test_time_augmentation  # noqa: F401


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` model saved from the zoo, without compiling it.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if ``path`` is not a ``.keras`` file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}")
    if path.suffix != ".keras":
        raise ValueError(
            f"{path} is not a .keras file; SavedModel and .tflite files load through fer_runtime.predictors"
        )
    return keras.models.load_model(path, compile=False)
