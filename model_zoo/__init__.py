"""Model architectures and the in-graph preprocessing they share."""

from model_zoo import seed_cnn as _seed_cnn  # noqa: F401  (registers the builders)
from model_zoo.loading import load_model
from model_zoo.preprocessing import FacePreprocessing
from model_zoo.registry import create_model, list_models, register_model

CLASS_NAMES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")

__all__ = [
    "CLASS_NAMES",
    "FacePreprocessing",
    "create_model",
    "list_models",
    "load_model",
    "register_model",
]
