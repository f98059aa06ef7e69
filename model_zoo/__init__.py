"""Model architectures, the in-graph preprocessing they share, and the facts every layer uses.

Importing this package (or ``model_zoo.constants``, ``model_zoo.artifacts``,
``model_zoo.pretrained``) does not import TensorFlow: the names that need it load on
first use, so a TFLite-only process stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from model_zoo.constants import CLASS_NAMES, FACE_SIZE, NUM_CLASSES
from model_zoo.registry import create_model, list_models, register_model

# Names that import Keras, loaded on first access (PEP 562).
_LAZY = {"load_model": "model_zoo.loading", "FacePreprocessing": "model_zoo.preprocessing"}

__all__ = [
    "CLASS_NAMES",
    "FACE_SIZE",
    "NUM_CLASSES",
    "FacePreprocessing",
    "create_model",
    "list_models",
    "load_model",
    "register_model",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'model_zoo' has no attribute {name!r}")
