import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import resolve_config
from pipeline.input_pipeline import (
    augment_image,
    compute_class_weights,
    make_augmenter,
    make_eval_dataset,
    make_train_dataset,
)


def _faces(n=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)
    labels = (np.arange(n) % 7).astype(np.int64)
    return images, labels


def test_augmentation_eagerly_changes_images_and_keeps_uint8():
    augmenter = make_augmenter(resolve_config("seed"))
    images, _ = _faces()
    out = augment_image(augmenter, tf.constant(images)).numpy()
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert not np.array_equal(out, images)


def test_augmentation_inside_tf_data_matches_eager_contract():
    config = resolve_config("seed", {"batch_size": 4})
    images, labels = _faces()
    ds = make_train_dataset(tf.data.Dataset.from_tensor_slices((images, labels)), config)
    batch_images, batch_labels = next(iter(ds))
    assert batch_images.dtype == tf.uint8 and tuple(batch_images.shape) == (4, 48, 48, 1)
    assert batch_labels.dtype == tf.int64
    epoch1 = np.concatenate([x.numpy() for x, _ in ds])
    epoch2 = np.concatenate([x.numpy() for x, _ in ds])
    assert not np.array_equal(epoch1, epoch2)  # random per epoch, after the cache


def test_each_augmentation_can_be_switched_off():
    assert make_augmenter(resolve_config("seed", {"augment": False})) is None
    off = {"flip": False, "rotation": 0.0, "zoom": 0.0, "translation": 0.0, "contrast": 0.0}
    assert make_augmenter(resolve_config("seed", off)) is None
    only_flip = make_augmenter(resolve_config("seed", {**off, "flip": True}))
    assert [type(layer).__name__ for layer in only_flip.layers] == ["RandomFlip"]
    images, _ = _faces()
    flipped = augment_image(only_flip, tf.constant(images)).numpy()
    for original, out in zip(images, flipped):
        assert np.array_equal(out, original) or np.array_equal(out, original[:, ::-1])


def test_random_erasing_fills_one_rectangle_with_noise():
    off = {"flip": False, "rotation": 0.0, "zoom": 0.0, "translation": 0.0, "contrast": 0.0}
    assert make_augmenter(resolve_config("seed", {**off, "erasing": 0.0})) is None
    augmenter = make_augmenter(resolve_config("seed", {**off, "erasing": 1.0}))
    images = np.full((16, 48, 48, 1), 100, np.uint8)
    batch, single = augment_image(augmenter, tf.constant(images)), augment_image(augmenter, images[0])
    for out in (batch.numpy(), single.numpy()[None]):
        assert out.dtype == np.uint8 and out.shape[1:] == (48, 48, 1)
        for image in out:
            changed = image[..., 0] != 100
            rows, cols = np.nonzero(changed)
            box = changed[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
            # One rectangle (a noise pixel may happen to equal 100) of 2-34 % of the face (28x28 at most).
            assert box.mean() > 0.9 and 0.01 <= box.size / changed.size <= 0.35
    half = make_augmenter(resolve_config("seed", {**off, "erasing": 0.5}))
    out = augment_image(half, tf.constant(np.full((400, 48, 48, 1), 100, np.uint8))).numpy()
    erased = (out != 100).any(axis=(1, 2, 3))
    assert 0.4 < erased.mean() < 0.6


def test_without_augmentation_training_batches_hold_the_original_images():
    config = resolve_config("seed", {"augment": False, "batch_size": 8})
    images, labels = _faces()
    got = next(iter(make_train_dataset(tf.data.Dataset.from_tensor_slices((images, labels)), config)))[0].numpy()
    assert sorted(x.tobytes() for x in got) == sorted(x.tobytes() for x in images)


def test_eval_dataset_keeps_order_and_label_smoothing_gives_one_hot():
    images, labels = _faces()
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    x, y = next(iter(make_eval_dataset(ds, batch_size=8)))
    np.testing.assert_array_equal(x.numpy(), images)
    np.testing.assert_array_equal(y.numpy(), labels)
    _, y_onehot = next(iter(make_eval_dataset(ds, batch_size=8, one_hot=True)))
    np.testing.assert_array_equal(y_onehot.numpy().argmax(axis=1), labels)


def test_class_weights():
    labels = np.array([0] * 10 + [1] * 1 + [3] * 30)
    assert compute_class_weights(labels, "none") is None
    balanced = compute_class_weights(labels, "balanced")
    assert balanced[1] > balanced[0] > balanced[3]
    # Weighted mean over examples stays 1, so the loss keeps its scale.
    counts = np.bincount(labels, minlength=7)
    assert sum(balanced[i] * counts[i] for i in range(7)) / counts.sum() == pytest.approx(1.0)
    sqrt = compute_class_weights(labels, "sqrt")
    assert sqrt[1] / sqrt[3] == pytest.approx(np.sqrt(balanced[1] / balanced[3]))
    with pytest.raises(ValueError, match="none, balanced or sqrt"):
        compute_class_weights(labels, "inverse")


def test_soft_targets_pass_through_and_class_indices_become_one_hot_of_their_mode():
    images, _ = _faces()
    soft = np.random.default_rng(1).dirichlet(np.ones(8), size=len(images)).astype(np.float32)
    soft_config = resolve_config("seed", {"labels": "ferplus-soft", "augment": False, "batch_size": 8})
    ds = tf.data.Dataset.from_tensor_slices((images, soft))
    got_images, got = next(iter(make_train_dataset(ds, soft_config)))
    order = [next(i for i, x in enumerate(images) if np.array_equal(x, g)) for g in got_images.numpy()]
    np.testing.assert_array_equal(got.numpy(), soft[order])  # shuffled together, unchanged
    _, evaluated = next(iter(make_eval_dataset(ds, batch_size=8, one_hot=True, num_classes=8)))
    np.testing.assert_array_equal(evaluated.numpy(), soft)
    smoothed = resolve_config("seed", {"labels": "ferplus-majority", "label_smoothing": 0.1, "batch_size": 8})
    labels = np.arange(8, dtype=np.int64)
    _, one_hot = next(iter(make_train_dataset(tf.data.Dataset.from_tensor_slices((images, labels)), smoothed)))
    assert one_hot.shape == (8, 8) and sorted(one_hot.numpy().argmax(axis=1).tolist()) == list(range(8))


def test_class_weights_of_8_classes():
    labels = np.array([7] * 2 + [0] * 8 + [6] * 10)
    weights = compute_class_weights(labels, "balanced", num_classes=8)
    assert sorted(weights) == list(range(8)) and weights[7] == pytest.approx(5 * weights[6])
    with pytest.raises(ValueError, match="class weights of 7 classes need labels 0-6; got 7"):
        compute_class_weights(labels, "balanced")
