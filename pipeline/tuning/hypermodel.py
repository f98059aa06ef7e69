"""``SeedCNNHyperModel``: the search space as a Keras Tuner hypermodel that trains through ``pipeline.recipe``.

It only maps a trial's hyperparameters onto a ``TrainConfig``
(``train_config_from_hyperparameters``); the model, optimiser, loss, class weights and the
callbacks that decide which weights validation sees are ``fer-train``'s
(``pipeline.recipe``), and so are the tf.data pipelines. Preprocessing is applied in
``HyperModel.fit``, Keras Tuner's documented way to tune it.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from model_zoo.constants import label_mode_class_names
from pipeline import recipe
from pipeline.config import TrainConfig
from pipeline.input_pipeline import make_eval_dataset, make_train_dataset
from pipeline.tuning.search_space import base_shape, declare_search_space, train_config_from_hyperparameters


class SeedCNNHyperModel(kt.HyperModel):
    """The seed CNN's search space for Keras Tuner.

    ``build(hp)`` is ``fer-train``'s compiled model for the trial's configuration (as many outputs
    as its label mode has classes); ``fit(hp, model, train_examples, validation_examples, ...)``
    trains it on ``fer-train``'s pipelines with its class weights and callbacks.

    Args:
        base_config: The configuration every trial starts from (a preset resolved with the
            search's data, label mode, model, epochs, batch size, precision and seed; ``model`` a
            key of ``BASE_SHAPES``); the searched fields are replaced per trial.
        train_images: The training split's uint8 faces, read once for every trial (BatchNorm
            recalibration draws from them). Needed by ``fit``; ``build`` alone (Keras Tuner
            builds the space on a chief, which trains nothing) does without.
        train_labels: The training split's class indices, in the same order (with soft labels,
            each face's top class, as ``fer-train`` weighs them): their count sets the
            learning-rate schedule's steps, their frequencies the class weights.
        name: Optional name of the hypermodel.

    Raises:
        ValueError: if ``base_config.model`` has no search space, or the images and labels
            are not given together or differ in length.
    """

    def __init__(
        self,
        base_config: TrainConfig,
        train_images: np.ndarray | None = None,
        train_labels: np.ndarray | None = None,
        name: str | None = None,
    ):
        base_shape(base_config.model)  # fail at construction, not in the first trial
        if (train_images is None) != (train_labels is None) or (
            train_images is not None and len(train_images) != len(train_labels)
        ):
            raise ValueError("train_images and train_labels are one split's faces and labels: give both, as long")
        super().__init__(name=name)
        self.base_config = base_config
        self.train_images = train_images
        self.train_labels = train_labels

    @property
    def n_train(self) -> int:
        """Training examples per epoch (0 without a training split)."""
        return 0 if self.train_labels is None else len(self.train_labels)

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        """Register the whole search space before the first trial (Keras Tuner calls this)."""
        declare_search_space(hp, self.base_config.model)

    def trial_config(self, hp: kt.HyperParameters) -> TrainConfig:
        """The ``TrainConfig`` of the trial whose hyperparameters are ``hp``."""
        # Declaring is idempotent; it makes build(hp) also work on a fresh HyperParameters.
        declare_search_space(hp, self.base_config.model)
        return train_config_from_hyperparameters(hp.values, self.base_config)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """The model of ``hp``, compiled as ``fer-train`` compiles it (``pipeline.recipe.build_compiled_model``)."""
        return recipe.build_compiled_model(self.trial_config(hp), self.n_train)

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
            train_examples: Unbatched (uint8 image, target) training examples, the split whose
                faces and labels the hypermodel was given: the ``targets`` view of
                ``Fer2013Data`` (a class index, or the vote distribution of ``ferplus-soft``).
            validation_examples: Unbatched (uint8 image, target) validation examples, the same
                view: ``val_accuracy`` compares the prediction with the class, or with the
                distribution's top class, as ``fer-train``'s does.
            **fit_kwargs: Passed to ``model.fit`` (``epochs``, ``callbacks``, ``verbose``,
                Hyperband's ``initial_epoch``, ...).

        Returns:
            The ``History`` of ``model.fit``; Keras Tuner reads ``val_accuracy`` from it.

        Raises:
            ValueError: if the hypermodel was made without the training split's faces and labels.
        """
        if self.train_labels is None:
            raise ValueError("SeedCNNHyperModel needs train_images and train_labels to train a trial")
        config = self.trial_config(hp)
        num_classes = len(label_mode_class_names(config.labels))
        train_ds = make_train_dataset(train_examples, config, num_classes)
        val_ds = make_eval_dataset(validation_examples, config.batch_size, config.soft_targets, num_classes)
        # The recipe's callbacks first: Keras Tuner's own (its best-epoch checkpoint, TensorBoard)
        # must see the weights validation saw (the EMA average, recalibrated BatchNorm statistics).
        callbacks = [*recipe.recipe_callbacks(config, self.train_images), *(fit_kwargs.pop("callbacks", None) or [])]
        return model.fit(
            train_ds,
            validation_data=val_ds,
            class_weight=recipe.class_weights(config, self.train_labels),
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself (seeded), as in fer-train
            **fit_kwargs,
        )
