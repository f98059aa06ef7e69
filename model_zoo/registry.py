"""A registry of model builders: ``create_model(name, **kwargs)`` and ``list_models()``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

import keras

_BUILDERS: dict[str, Callable[..., keras.Model]] = {}


def register_model(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
    """Register a model builder under its function name (decorator)."""
    _BUILDERS[fn.__name__] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Names of the registered models that match the shell-style ``pattern``, sorted."""
    return sorted(name for name in _BUILDERS if fnmatch.fnmatch(name, pattern))


def create_model(name: str, **kwargs) -> keras.Model:
    """Build the registered model ``name`` with ``kwargs`` passed to its builder.

    Raises:
        ValueError: if no model of that name is registered.
    """
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}. Registered models: {', '.join(list_models())}") from None
    return builder(**kwargs)
