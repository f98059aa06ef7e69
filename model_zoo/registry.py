"""A registry of model builders: ``create_model(name, **kwargs)`` and ``list_models()``.

Builders import Keras when they are called, not when they are registered, so listing the
models (for ``--help`` and argument checks) costs no TensorFlow import.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

# Modules whose builders are registered on first use of the registry.
ARCHITECTURE_MODULES = ("model_zoo.seed_cnn", "model_zoo.vgg13")

_BUILDERS: dict[str, Callable[..., keras.Model]] = {}


def register_model(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
    """Register a model builder under its function name (decorator)."""
    _BUILDERS[fn.__name__] = fn
    return fn


def _load_architectures() -> None:
    for module in ARCHITECTURE_MODULES:
        importlib.import_module(module)


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models that match the shell-style ``pattern``, sorted."""
    _load_architectures()
    return sorted(name for name in _BUILDERS if fnmatch.fnmatch(name, pattern))


def create_model(name: str, **kwargs) -> keras.Model:
    """Build the registered model ``name`` with ``kwargs`` passed to its builder.

    Raises:
        ValueError: if no model of that name is registered.
    """
    _load_architectures()
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}. Registered models: {', '.join(list_models())}") from None
    return builder(**kwargs)
