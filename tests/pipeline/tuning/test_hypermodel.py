"""The hypermodel: hyperparameters onto the zoo's builders, and a trial trained as fer-train's recipe trains."""

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from pipeline import recipe
from pipeline.config import TrainConfig, resolve_config
from pipeline.tuning import (
    HYPERPARAMETER_NAMES,
    SeedCNNHyperModel,
    train_config_from_hyperparameters,
)


def test_hypermodel_maps_hyperparameters_onto_the_seed_cnn_builder():
    hypermodel = SeedCNNHyperModel(TrainConfig(model="seed_cnn_tiny", batch_size=16))
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    assert set(hp.values) == set(HYPERPARAMETER_NAMES)
    hp.values.update(width_multiplier=1.5, dense_units=32, l2=1e-4, label_smoothing=0.1, augment_strength=2.0)
    model = hypermodel.build(hp)
    convs = [layer.filters for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert convs == [6, 6, 12, 12, 12, 12]  # (4, 8, 8) x 1.5, two convolutions per block
    assert model.get_layer("dense").units == 32
    assert model.get_layer("dense").kernel_regularizer.l2 == pytest.approx(1e-4)
    # Label smoothing needs one-hot labels and the categorical loss, as in fer-train.
    assert model.loss.__class__.__name__ == "CategoricalCrossentropy"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(hp.values["learning_rate"])
    config = hypermodel.trial_config(hp)
    assert (config.rotation, config.zoom, config.translation, config.contrast) == (0.1, 0.2, 0.2, 0.2)
    assert config.batch_size == 16 and config.augment
    off = train_config_from_hyperparameters({**hp.values, "augment_strength": 0.0}, TrainConfig())
    assert not off.augment and off.model_kwargs["filters"] == [48, 96, 192]
    with pytest.raises(ValueError, match="No search space for model 'mobilenet'"):
        SeedCNNHyperModel(TrainConfig(model="mobilenet"))


def _tiny_training_split(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8), np.arange(n) % 7


def test_a_tuner_trial_and_fer_train_build_the_same_optimizer_loss_and_schedule():
    overrides = {"model": "seed_cnn_tiny", "epochs": 3, "batch_size": 16, "lr_schedule": "cosine"}
    base = resolve_config("seed", {**overrides, "warmup_epochs": 1, "ema_momentum": 0.99})
    images, labels = _tiny_training_split(100)
    hypermodel = SeedCNNHyperModel(base, train_images=images, train_labels=labels)
    hp = kt.HyperParameters()
    hp.Fixed("label_smoothing", 0.1)
    hp.Fixed("learning_rate", 2e-3)
    config = hypermodel.trial_config(hp)
    assert (config.lr_schedule, config.warmup_epochs, config.ema_momentum) == ("cosine", 1, 0.99)
    assert (config.label_smoothing, config.learning_rate) == (0.1, 2e-3)

    trial_model = hypermodel.build(hp)  # as a tuner trial builds it
    train_model = recipe.build_compiled_model(config, len(labels))  # as fer-train builds it
    # Everything but the name, which Keras numbers per optimizer made (adam_1, adam_2).
    trial_optimizer = {k: v for k, v in trial_model.optimizer.get_config().items() if k != "name"}
    assert trial_optimizer == {k: v for k, v in train_model.optimizer.get_config().items() if k != "name"}
    assert trial_optimizer["use_ema"] and trial_optimizer["ema_momentum"] == pytest.approx(0.99)
    schedule = trial_optimizer["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["warmup_steps"] == 7  # one epoch of ceil(100 / 16) steps
    assert schedule["config"]["warmup_target"] == pytest.approx(2e-3)
    assert trial_model.loss.get_config() == train_model.loss.get_config()
    assert trial_model.loss.get_config()["label_smoothing"] == pytest.approx(0.1)


def test_a_trial_trains_with_the_recipes_class_weights_and_callbacks_before_keras_tuners():
    overrides = {"model": "seed_cnn_tiny", "batch_size": 8, "class_weight": "balanced"}
    base = resolve_config("seed", {**overrides, "ema_momentum": 0.99, "recalibrate_batchnorm": 16})
    images, labels = _tiny_training_split(40)
    hypermodel = SeedCNNHyperModel(base, train_images=images, train_labels=labels)
    hp = kt.HyperParameters()
    examples = tf.data.Dataset.from_tensor_slices((images, labels))

    class RecordingModel:
        def fit(self, *args, **kwargs):
            self.kwargs = kwargs
            return "history"

    model, tuner_checkpoint = RecordingModel(), keras.callbacks.Callback()
    assert hypermodel.fit(hp, model, examples, examples, callbacks=[tuner_checkpoint], epochs=1) == "history"
    # The EMA swap and the recalibration come first, so that Keras Tuner's checkpoint saves what validation saw.
    callbacks = model.kwargs["callbacks"]
    assert [type(c).__name__ for c in callbacks[:2]] == ["SwapEMAWeights", "BatchNormRecalibration"]
    assert callbacks[2:] == [tuner_checkpoint]
    assert model.kwargs["class_weight"] == recipe.class_weights(hypermodel.trial_config(hp), labels)
    assert model.kwargs["class_weight"] is not None and model.kwargs["epochs"] == 1
    with pytest.raises(ValueError, match="needs train_images and train_labels"):
        SeedCNNHyperModel(base).fit(hp, model, examples, examples)
    with pytest.raises(ValueError, match="give both, as long"):
        SeedCNNHyperModel(base, train_images=images, train_labels=labels[:3])


def test_a_ferplus_trial_trains_8_classes_on_fer_trains_targets():
    images, labels = _tiny_training_split(24)
    votes = np.random.default_rng(1).dirichlet(np.ones(8), len(labels)).astype(np.float32)
    for mode, targets, smoothing in (("ferplus-soft", votes, 0.0), ("ferplus-majority", labels, 0.1)):
        base = resolve_config("seed", {"model": "seed_cnn_tiny", "batch_size": 8, "labels": mode})
        hypermodel = SeedCNNHyperModel(base, train_images=images, train_labels=labels)
        hp = kt.HyperParameters()
        hp.Fixed("label_smoothing", smoothing)
        model = hypermodel.build(hp)
        assert model.output_shape[-1] == 8 and model.loss.__class__.__name__ == "CategoricalCrossentropy", mode

        class RecordingModel:
            def fit(self, train_ds, **kwargs):
                self.train_ds, self.kwargs = train_ds, kwargs

        recording = RecordingModel()
        examples = tf.data.Dataset.from_tensor_slices((images, targets))
        hypermodel.fit(hp, recording, examples, examples, epochs=1)
        # Distributions over the 8 classes in training and validation: the votes, or one-hot (smoothed) classes.
        assert recording.train_ds.element_spec[1].shape.as_list() == [8, 8], mode
        assert recording.kwargs["validation_data"].element_spec[1].shape.as_list() == [None, 8], mode
        first = next(iter(recording.kwargs["validation_data"].unbatch()))[1].numpy()
        expected = votes[0] if mode == "ferplus-soft" else np.eye(8)[labels[0]]  # the loss smooths
        np.testing.assert_allclose(first, expected, rtol=1e-6)


def test_a_search_refuses_a_preset_that_distils(monkeypatch):
    from pipeline.config import PRESETS
    from pipeline.tuning.search_config import SearchConfig, trial_base_config

    monkeypatch.setitem(PRESETS, "taught", {"teacher": "seed_cnn_ferplus"})
    assert trial_base_config(SearchConfig(preset="seed")).teacher is None
    with pytest.raises(ValueError, match="distils from seed_cnn_ferplus, which a search does not do"):
        trial_base_config(SearchConfig(preset="taught"))
