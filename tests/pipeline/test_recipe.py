import keras
import numpy as np
import pytest

from pipeline.config import resolve_config
from pipeline.fer2013_dataset import load_fer2013
from pipeline.input_pipeline import dataset_to_arrays, make_train_dataset
from pipeline.recipe import build_compiled_model, class_weights, make_loss


@pytest.mark.parametrize(
    "labels,label_smoothing,outputs,loss",
    [
        ("fer2013", 0.0, 7, keras.losses.SparseCategoricalCrossentropy),
        ("ferplus-majority", 0.0, 8, keras.losses.SparseCategoricalCrossentropy),
        ("ferplus-majority", 0.1, 8, keras.losses.CategoricalCrossentropy),
        ("ferplus-soft", 0.0, 8, keras.losses.CategoricalCrossentropy),
    ],
)
def test_the_label_mode_decides_the_outputs_and_the_loss(labels, label_smoothing, outputs, loss):
    config = resolve_config("smoke", {"labels": labels, "label_smoothing": label_smoothing})
    assert isinstance(make_loss(config), loss)
    model = build_compiled_model(config, n_train=64)
    assert model.output_shape == (None, outputs)


def test_majority_targets_and_8_class_weights(ferplus_csv, data_dir):
    # What fit gets (test_train's slow majority run fits them end to end): one-hot targets of 8 classes
    # for the smoothed loss, and a weight for each of the 8 classes.
    config = resolve_config(
        "smoke", {"labels": "ferplus-majority", "label_smoothing": 0.1, "class_weight": "balanced", "augment": False}
    )
    data = load_fer2013(ferplus_csv, data_dir, labels=config.labels)
    _, labels = dataset_to_arrays(data.split("train"))
    weights = class_weights(config, labels)
    counts = np.bincount(labels, minlength=8)
    assert sorted(weights) == list(range(8)) and counts[7] > 0
    # Balanced: inversely proportional to the class counts, over all 8 classes.
    np.testing.assert_allclose([weights[i] * counts[i] for i in range(8)], weights[7] * counts[7])
    images, targets = next(iter(make_train_dataset(data.targets("train"), config)))
    assert images.shape == (32, 48, 48, 1) and targets.shape == (32, 8)
    assert set(np.unique(targets.numpy())) == {0.0, 1.0} and (targets.numpy().sum(axis=1) == 1).all()


def test_sgd_nesterov_and_the_plateau_schedule():
    from pipeline.recipe import make_optimizer, recipe_callbacks

    config = resolve_config(
        "smoke", {"optimizer": "sgd-nesterov", "learning_rate": 0.01, "momentum": 0.8, "lr_schedule": "plateau"}
    )
    optimizer = make_optimizer(config, n_train=64)
    assert isinstance(optimizer, keras.optimizers.SGD) and optimizer.nesterov and optimizer.momentum == 0.8
    assert float(optimizer.learning_rate) == pytest.approx(0.01)  # a constant that the callback cuts
    images = np.zeros((4, 48, 48, 1), np.uint8)
    (plateau,) = recipe_callbacks(config, images)
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau)
    assert (plateau.monitor, plateau.factor, plateau.patience) == ("val_loss", 0.5, 3)
    (plateau,) = recipe_callbacks(config, images, has_validation=False)
    assert plateau.monitor == "loss"
    assert recipe_callbacks(resolve_config("smoke"), images) == []
    with pytest.raises(ValueError, match="plateau_factor in"):
        resolve_config("smoke", {"lr_schedule": "plateau", "plateau_factor": 1.5})
