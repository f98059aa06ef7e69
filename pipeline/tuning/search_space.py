"""The search space over the seed CNN, and what one point of it means as a ``TrainConfig``.

The architecture has one definition, ``model_zoo.seed_cnn.seed_cnn``, and the training one
recipe, ``pipeline.recipe``. A point of the space only sets configuration fields:

* the builder's arguments: filters per block (a width multiplier on the base model's
  filters), ``conv_dropout``, ``dense_units``, ``dense_dropout``, ``l2``;
* Adam's (peak) learning rate and the label smoothing of the loss;
* the augmentation strength of the tf.data training pipeline.

``train_config_from_hyperparameters`` is that mapping, so that ``fer-train`` retrains the
best trial exactly as it was tuned. Nothing here imports Keras Tuner or TensorFlow: ``hp``
is duck-typed, and the command line reads ``BASE_SHAPES`` for its ``--model`` choices.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config import TrainConfig

if TYPE_CHECKING:
    import keras_tuner as kt


@dataclass(frozen=True)
class BaseShape:
    """The part of the search space that depends on the base model's size."""

    filters: tuple[int, int, int]  # filters per block at width multiplier 1
    dense_units: tuple[int, ...]  # choices for the hidden dense layer
    default_dense_units: int


# The models the search space is defined for; seed_cnn_tiny keeps the shape of the
# space at a few hundredth of the size, so that tests run a trial in seconds.
BASE_SHAPES: dict[str, BaseShape] = {
    "seed_cnn": BaseShape(filters=(32, 64, 128), dense_units=(128, 256, 512), default_dense_units=256),
    "seed_cnn_tiny": BaseShape(filters=(4, 8, 8), dense_units=(8, 16, 32), default_dense_units=16),
}

WIDTH_MULTIPLIERS = (0.5, 0.75, 1.0, 1.5)
L2_CHOICES = (0.0, 1e-5, 1e-4, 1e-3)
LABEL_SMOOTHING_CHOICES = (0.0, 0.05, 0.1, 0.2)

# Augmentation strength s scales the seed configuration's augmentation magnitudes
# (s = 1 is fer-train's default, s = 0 turns augmentation off), whatever the search's
# preset: a strength means the same augmentation in every search.
SEED_AUGMENTATION = {name: getattr(TrainConfig(), name) for name in ("rotation", "zoom", "translation", "contrast")}

# The hyperparameters of the search space, each with the values it may take at all
# ([low, high) and how to say it; wider than the searched range, for fer-tune --fixed).
# Hyperband adds its own "tuner/..." entries to a trial's values; they are not part of the model.
HYPERPARAMETER_VALID_RANGES: dict[str, tuple[float, float, str]] = {
    "width_multiplier": (1e-3, math.inf, "a positive number"),
    "conv_dropout": (0.0, 1.0, "a rate in [0, 1)"),
    "dense_units": (1, math.inf, "a whole number of units, at least 1"),
    "dense_dropout": (0.0, 1.0, "a rate in [0, 1)"),
    "l2": (0.0, math.inf, "a number >= 0"),
    "learning_rate": (1e-12, math.inf, "a positive number"),
    "label_smoothing": (0.0, 1.0, "a value in [0, 1)"),
    "augment_strength": (0.0, math.inf, "a number >= 0"),
}
HYPERPARAMETER_NAMES = tuple(HYPERPARAMETER_VALID_RANGES)


def base_shape(model: str) -> BaseShape:
    """The search space's shape for the base model ``model``.

    Raises:
        ValueError: if ``model`` has no search space.
    """
    try:
        return BASE_SHAPES[model]
    except KeyError:
        raise ValueError(
            f"No search space for model {model!r}; the search space is defined for: {', '.join(BASE_SHAPES)}"
        ) from None


def declare_search_space(hp: kt.HyperParameters, model: str = "seed_cnn") -> None:
    """Register the search space on ``hp`` (a no-op for entries it already has).

    The defaults are the documented seed configuration, so ``hp`` with default values
    describes the seed CNN trained as ``fer-train --preset seed`` trains it.

    Args:
        hp: The hyperparameters to register the space on (a ``keras_tuner.HyperParameters``).
        model: The base model, a key of ``BASE_SHAPES``.

    Raises:
        ValueError: if ``model`` has no search space.
    """
    shape = base_shape(model)
    hp.Choice("width_multiplier", list(WIDTH_MULTIPLIERS), default=1.0)
    hp.Float("conv_dropout", 0.0, 0.5, step=0.05, default=0.25)
    hp.Choice("dense_units", list(shape.dense_units), default=shape.default_dense_units)
    hp.Float("dense_dropout", 0.2, 0.6, step=0.1, default=0.5)
    hp.Choice("l2", list(L2_CHOICES), default=0.0)
    hp.Float("learning_rate", 1e-4, 3e-3, sampling="log", default=1e-3)
    hp.Choice("label_smoothing", list(LABEL_SMOOTHING_CHOICES), default=0.0)
    hp.Float("augment_strength", 0.0, 2.0, step=0.5, default=1.0)


def train_config_from_hyperparameters(values: Mapping[str, Any], base: TrainConfig) -> TrainConfig:
    """The ``TrainConfig`` that one point of the search space stands for.

    Args:
        values: Hyperparameter values by name (a trial's ``hp.values``); entries other
            than ``HYPERPARAMETER_NAMES`` (e.g. Hyperband's ``tuner/epochs``) are ignored.
        base: The configuration the search's trials start from (its preset, data, model,
            batch size, seed, ...); the tuned fields replace its own.

    Returns:
        ``base`` with ``model_kwargs``, ``learning_rate``, ``label_smoothing`` and the
        augmentation fields set from ``values``; every other field (learning-rate schedule,
        EMA, class weights, ...) is the base's.

    Raises:
        KeyError: if a hyperparameter of the search space is missing from ``values``.
        ValueError: if ``base.model`` has no search space.
    """
    missing = [name for name in HYPERPARAMETER_NAMES if name not in values]
    if missing:
        raise KeyError(f"Hyperparameters missing from {dict(values)}: {missing}")
    shape = base_shape(base.model)
    width = float(values["width_multiplier"])
    strength = _rounded(values["augment_strength"])
    augmentation = {name: _rounded(magnitude * strength) for name, magnitude in SEED_AUGMENTATION.items()}
    return dataclasses.replace(
        base,
        model_kwargs={
            # A list, not a tuple, so that the config survives a JSON round trip unchanged
            # (fer-train compares config.json with the config when it resumes a run).
            "filters": [max(1, round(n * width)) for n in shape.filters],
            "conv_dropout": _rounded(values["conv_dropout"]),
            "dense_units": int(values["dense_units"]),
            "dense_dropout": _rounded(values["dense_dropout"]),
            "l2": float(values["l2"]),
        },
        learning_rate=float(values["learning_rate"]),
        label_smoothing=_rounded(values["label_smoothing"]),
        augment=strength > 0,
        flip=strength > 0,
        **augmentation,
    )


def _rounded(value: float) -> float:
    # Stepped floats arrive as 0.30000000000000004; keep configs readable and stable.
    return round(float(value), 6)
