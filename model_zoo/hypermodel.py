"""The Keras Tuner search space over the seed CNN: ``SeedCNNHyperModel``.

The architecture has one definition, ``model_zoo.seed_cnn.seed_cnn``. This module only
maps hyperparameters onto

* the builder's arguments: filters per block (a width multiplier on the base model's
  filters), ``conv_dropout``, ``dense_units``, ``dense_dropout``, ``l2``;
* the compile settings: Adam's learning rate and label smoothing;
* the augmentation strength of the tf.data training pipeline, which is applied in
  ``HyperModel.fit`` (Keras Tuner's documented way to tune preprocessing) through the
  same ``make_train_dataset`` and ``TrainConfig`` as ``fer-train``.

``train_config_from_hyperparameters`` is that mapping as a ``TrainConfig``, so that the
best trial can be retrained by ``fer-train`` exactly as it was tuned.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import tensorflow as tf

from model_zoo.precision import dtype_policy
from model_zoo.registry import create_model
from pipeline.config import TrainConfig
from pipeline.input_pipeline import make_eval_dataset, make_train_dataset

NUM_CLASSES = 7


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
# (s = 1 is fer-train's default, s = 0 turns augmentation off).
_SEED_AUGMENTATION = {name: getattr(TrainConfig(), name) for name in ("rotation", "zoom", "translation", "contrast")}

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


def declare_search_space(hp: kt.HyperParameters, model: str = "seed_cnn") -> None:
    """Register the search space on ``hp`` (a no-op for entries it already has).

    The defaults are the documented seed configuration, so ``hp`` with default values
    describes the seed CNN trained as ``fer-train --preset seed`` trains it.

    Args:
        hp: The hyperparameters to register the space on.
        model: The base model, a key of ``BASE_SHAPES``.

    Raises:
        ValueError: if ``model`` has no search space.
    """
    shape = _base_shape(model)
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
        base: The configuration the search runs with (data, model, batch size, seed, ...);
            the tuned fields replace its own.

    Returns:
        ``base`` with ``model_kwargs``, ``learning_rate``, ``label_smoothing`` and the
        augmentation fields set from ``values``.

    Raises:
        KeyError: if a hyperparameter of the search space is missing from ``values``.
        ValueError: if ``base.model`` has no search space.
    """
    missing = [name for name in HYPERPARAMETER_NAMES if name not in values]
    if missing:
        raise KeyError(f"Hyperparameters missing from {dict(values)}: {missing}")
    shape = _base_shape(base.model)
    width = float(values["width_multiplier"])
    strength = _rounded(values["augment_strength"])
    augmentation = {name: _rounded(magnitude * strength) for name, magnitude in _SEED_AUGMENTATION.items()}
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


def compile_for_training(model: keras.Model, config: TrainConfig) -> keras.Model:
    """Compile ``model`` with the optimiser and loss ``fer-train`` uses for ``config``.

    Keras 3.15's ``SparseCategoricalCrossentropy`` has no label smoothing, so with
    smoothing the loss is ``CategoricalCrossentropy`` and the input pipeline one-hot
    encodes the labels (``make_train_dataset`` / ``make_eval_dataset`` do that when
    ``config.label_smoothing > 0``), exactly as in ``pipeline.train``.

    Returns:
        ``model``, compiled.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=(
            keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
            if config.label_smoothing > 0
            else keras.losses.SparseCategoricalCrossentropy()
        ),
        metrics=["accuracy"],
    )
    return model


class SeedCNNHyperModel(kt.HyperModel):
    """The seed CNN's search space for Keras Tuner.

    ``build(hp)`` maps ``hp`` onto ``seed_cnn``'s arguments and the compile settings;
    ``fit(hp, model, train_examples, validation_examples, ...)`` builds the trial's
    tf.data pipelines (augmentation strength, label encoding) from the same mapping.

    Args:
        base_config: The configuration every trial starts from: ``model`` (a key of
            ``BASE_SHAPES``: ``seed_cnn``, or ``seed_cnn_tiny`` for tests), ``batch_size``,
            ``precision`` and ``seed`` are used; tuned fields are replaced per trial.
        name: Optional name of the hypermodel.

    Raises:
        ValueError: if ``base_config.model`` has no search space.
    """

    def __init__(self, base_config: TrainConfig, name: str | None = None):
        _base_shape(base_config.model)  # fail at construction, not in the first trial
        super().__init__(name=name)
        self.base_config = base_config

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        """Register the whole search space before the first trial (Keras Tuner calls this)."""
        declare_search_space(hp, self.base_config.model)

    def trial_config(self, hp: kt.HyperParameters) -> TrainConfig:
        """The ``TrainConfig`` of the trial whose hyperparameters are ``hp``."""
        # Declaring is idempotent; it makes build(hp) also work on a fresh HyperParameters.
        declare_search_space(hp, self.base_config.model)
        return train_config_from_hyperparameters(hp.values, self.base_config)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """The compiled seed CNN for ``hp``."""
        config = self.trial_config(hp)
        with dtype_policy(config.precision):
            model = create_model(config.model, **config.model_kwargs)
        return compile_for_training(model, config)

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        train_examples: tf.data.Dataset,
        validation_examples: tf.data.Dataset,
        **fit_kwargs,
    ) -> keras.callbacks.History:
        """Train ``model`` on the trial's pipelines and return its history.

        Args:
            hp: The trial's hyperparameters.
            model: The model ``build(hp)`` returned.
            train_examples: Unbatched (uint8 image, int label) training examples.
            validation_examples: Unbatched (uint8 image, int label) validation examples.
            **fit_kwargs: Passed to ``model.fit`` (``epochs``, ``callbacks``, ``verbose``,
                Hyperband's ``initial_epoch``, ...).

        Returns:
            The ``History`` of ``model.fit``; Keras Tuner reads ``val_accuracy`` from it.
        """
        config = self.trial_config(hp)
        train_ds = make_train_dataset(train_examples, config, NUM_CLASSES)
        val_ds = make_eval_dataset(validation_examples, config.batch_size, config.label_smoothing, NUM_CLASSES)
        # The dataset shuffles itself (seeded), as in fer-train.
        return model.fit(train_ds, validation_data=val_ds, shuffle=False, **fit_kwargs)


def _base_shape(model: str) -> BaseShape:
    try:
        return BASE_SHAPES[model]
    except KeyError:
        raise ValueError(
            f"No search space for model {model!r}; the search space is defined for: {', '.join(BASE_SHAPES)}"
        ) from None


def _rounded(value: float) -> float:
    # Stepped floats arrive as 0.30000000000000004; keep configs readable and stable.
    return round(float(value), 6)
