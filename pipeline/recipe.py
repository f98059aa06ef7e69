"""The training recipe: what a ``TrainConfig`` means for the model, the optimiser, the loss and the callbacks.

``fer-train`` and every ``fer-tune`` trial build their model here, so a configuration chosen
by a search trains the same way when ``fer-train`` retrains it:

* the architecture from the zoo, built under the configuration's dtype policy and strategy, with
  as many outputs as its label mode has classes (7 for ``fer2013``, 8 for the FER+ modes);
* Adam or SGD with Nesterov momentum, with a constant, warmed-up cosine or plateau-cut learning rate and,
  optionally, weight averaging (EMA);
* sparse categorical cross-entropy, or categorical on distributions: soft labels (``ferplus-soft``)
  or label smoothing (the input pipeline then one-hot encodes class labels: ``make_train_dataset`` /
  ``make_eval_dataset``);
* class weights, and the callbacks that decide which weights validation sees (EMA swap,
  BatchNorm recalibration on unaugmented faces).
"""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import tensorflow as tf

from model_zoo.batchnorm_recalibration import recalibrate_batchnorm
from model_zoo.constants import label_mode_class_names
from model_zoo.precision import cpu_has_bfloat16, dtype_policy
from model_zoo.registry import create_model
from pipeline.config import TrainConfig
from pipeline.input_pipeline import compute_class_weights

log = logging.getLogger(__name__)


def learning_rate(config: TrainConfig, n_train: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate of ``config``: a constant, or a cosine decay over the run after a linear warm-up.

    The plateau schedule starts from the constant; ``recipe_callbacks`` cuts it.

    Args:
        config: The configuration (``learning_rate``, ``lr_schedule``, ``warmup_epochs``, ``epochs``).
        n_train: Training examples per epoch.
    """
    if config.lr_schedule != "cosine":
        return config.learning_rate
    steps = math.ceil(n_train / config.batch_size)
    warmup = config.warmup_epochs * steps
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate if not warmup else 0.0,
        decay_steps=max(1, config.epochs * steps - warmup),
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def make_optimizer(config: TrainConfig, n_train: int) -> keras.optimizers.Optimizer:
    """``config``'s optimizer (Adam, or SGD with Nesterov momentum) with its learning rate (schedule), averaging
    the weights when ``ema_momentum`` is set."""
    averaging = {"use_ema": config.ema_momentum is not None, "ema_momentum": config.ema_momentum or 0.99}
    if config.optimizer == "sgd-nesterov":
        return keras.optimizers.SGD(
            learning_rate(config, n_train), momentum=config.momentum, nesterov=True, **averaging
        )
    return keras.optimizers.Adam(learning_rate(config, n_train), **averaging)


def make_loss(config: TrainConfig) -> keras.losses.Loss:
    """The cross-entropy of ``config``.

    ``CategoricalCrossentropy`` on distributions when ``config.soft_targets``: soft labels are
    distributions, and Keras 3.15's ``SparseCategoricalCrossentropy`` has no label smoothing, so with
    smoothing the labels are one-hot vectors. Else ``SparseCategoricalCrossentropy`` on class indices.
    """
    if config.soft_targets:
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy()


def build_compiled_model(config: TrainConfig, n_train: int, strategy: tf.distribute.Strategy | None = None):
    """The zoo model of ``config``, compiled with its optimiser and loss, ready for ``fit``.

    Args:
        config: The resolved configuration; its label mode decides the number of outputs.
        n_train: Training examples per epoch (the learning-rate schedule counts steps).
        strategy: The distribution strategy whose scope holds the variables (default: the current one).

    Returns:
        The compiled ``keras.Model`` (uncompiled models come from ``model_zoo.create_model``).

    Raises:
        ValueError: on an unknown model or bad model arguments.
    """
    if (
        config.precision == "mixed_bfloat16"
        and not tf.config.list_logical_devices("GPU")
        and cpu_has_bfloat16() is False
    ):
        log.warning(
            "This CPU has no bfloat16 instructions (AVX512-BF16 or AMX): mixed_bfloat16 is emulated and "
            "usually slower than float32 here. Pass --precision float32 for a faster run."
        )
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope(), dtype_policy(config.precision):
        num_classes = len(label_mode_class_names(config.labels))
        model = create_model(config.model, num_classes=num_classes, **config.model_kwargs)
        model.compile(optimizer=make_optimizer(config, n_train), loss=make_loss(config), metrics=["accuracy"])
    return model


def class_weights(config: TrainConfig, labels: np.ndarray) -> dict[int, float] | None:
    """The per-class loss weights of ``config.class_weight`` for these training labels (None: unweighted).

    ``labels`` are class indices of ``config.labels``' classes (for soft labels, each face's top class:
    Keras weighs a distribution target by its argmax).
    """
    return compute_class_weights(labels, config.class_weight, len(label_mode_class_names(config.labels)))


def recipe_callbacks(
    config: TrainConfig,
    train_images: np.ndarray,
    strategy: tf.distribute.Strategy | None = None,
    has_validation: bool = True,
) -> list[keras.callbacks.Callback]:
    """The callbacks that decide which weights validation and checkpoints see.

    Place them after a ``BackupAndRestore`` (whose backup keeps the raw weights) and before
    anything that reads ``val_accuracy`` or saves the model.

    * ``SwapEMAWeights`` when ``ema_momentum`` is set: from each epoch's end, validation and
      checkpoints see the averaged weights, training the raw ones.
    * ``BatchNormRecalibration`` when ``recalibrate_batchnorm`` is set: BatchNorm statistics
      from that many unaugmented training faces (drawn with ``config.seed``) before each validation.
    * ``ReduceLROnPlateau`` for the plateau schedule, watching the validation loss (the training loss
      without validation). The learning rate it sets is an optimizer variable, kept by the backup; its count
      of epochs without improvement starts again after a resume.

    Raises:
        ValueError: if recalibration is asked for with more than one replica.
    """
    callbacks: list[keras.callbacks.Callback] = []
    if config.ema_momentum is not None:
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if config.recalibrate_batchnorm:
        if strategy is not None and strategy.num_replicas_in_sync > 1:
            raise ValueError(
                "--recalibrate-batchnorm works with one device only; use fer-export --recalibrate-batchnorm"
            )
        pick = np.random.default_rng(config.seed).permutation(len(train_images))[: config.recalibrate_batchnorm]
        callbacks.append(BatchNormRecalibration(train_images[pick]))
    if config.lr_schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss" if has_validation else "loss",
                factor=config.plateau_factor,
                patience=config.plateau_patience,
                min_lr=config.learning_rate * 1e-3,
                verbose=1,  # each cut is said in the log
            )
        )
    return callbacks


class BatchNormRecalibration(keras.callbacks.Callback):
    """Recompute BatchNorm statistics on unaugmented training faces before each validation.

    Statistics tracked during training follow the augmented faces; validation, the best
    checkpoint and model.keras then see the statistics of the faces they will be served
    (see ``model_zoo.batchnorm_recalibration``). After ``SwapEMAWeights`` in the callback
    list, they are computed for the averaged weights. Training itself never reads them.
    """

    def __init__(self, images: np.ndarray):
        super().__init__()
        self.images = images
        self._done_this_epoch = False

    def on_epoch_begin(self, epoch, logs=None):
        self._done_this_epoch = False

    def on_test_begin(self, logs=None):
        self._recalibrate()

    def on_epoch_end(self, epoch, logs=None):
        self._recalibrate()  # without a validation split: still before the checkpoint

    def _recalibrate(self):
        if not self._done_this_epoch:
            recalibrate_batchnorm(self.model, self.images)
            self._done_this_epoch = True
