"""tf.data input pipelines for training and evaluation, augmentation and class weights.

Order, train: cache -> shuffle -> map(augment, parallel) -> batch(drop_remainder) -> map(mix batch) -> prefetch.
  * cache first: the decoded uint8 images (about 66 MB for FER2013) are read
    from disk once, and augmentation after the cache stays random per epoch;
  * shuffle before augmenting, on whole examples, with a buffer the size of
    the data set (it fits in memory) so every epoch sees a full permutation;
  * augment per example in parallel map calls, off the training thread;
  * mix whole batches (mixup or CutMix, ``pipeline.batch_mixing``) after batching, when asked;
  * prefetch last, so the next batch is ready while the model trains.
Eval: the same without shuffle and augmentation.

Targets: the datasets hold (image, target) pairs, the target a class index or, for soft labels
(``ferplus-soft``), a distribution over the classes. Whenever the loss is categorical (soft labels,
or label smoothing) every target leaves the pipeline as a distribution: class indices become one-hot
vectors, so soft targets, one-hot targets and anything mixed from them (mixup) take the same path.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from model_zoo.constants import FACE_SHAPE, NUM_CLASSES, label_mode_class_names
from pipeline.batch_mixing import make_batch_mixer
from pipeline.config import TrainConfig


def make_augmenter(config: TrainConfig) -> keras.Sequential | None:
    """Random Keras preprocessing layers from ``config``; None when augmentation is off.

    The layers work on float images in [0, 255] and run eagerly or inside ``tf.data``.
    """
    if not config.augment:
        return None
    layers: list[keras.layers.Layer] = []
    seed = config.seed
    if config.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if config.rotation > 0:
        layers.append(keras.layers.RandomRotation(config.rotation, fill_mode="reflect", seed=seed + 1))
    if config.zoom > 0:
        layers.append(keras.layers.RandomZoom(config.zoom, fill_mode="reflect", seed=seed + 2))
    if config.translation > 0:
        layers.append(
            keras.layers.RandomTranslation(config.translation, config.translation, fill_mode="reflect", seed=seed + 3)
        )
    if config.contrast > 0:
        layers.append(keras.layers.RandomContrast(config.contrast, value_range=(0, 255), seed=seed + 4))
    if config.erasing > 0:
        # Random Erasing (Zhong et al. 2017) as Keras implements it: each side is
        # sqrt(U(0.02, 0.33)) of the face's (2-33 % of the area), filled with
        # N(0, 255) noise clipped to [0, 255] (about half black). Last, so the
        # erased patch is not rotated or rescaled.
        layers.append(
            keras.layers.RandomErasing(
                factor=(config.erasing, config.erasing), scale=(0.02, 0.33), value_range=(0, 255), seed=seed + 5
            )
        )
    return keras.Sequential(layers, name="augmentation") if layers else None


def augment_image(augmenter: keras.Sequential, image: tf.Tensor) -> tf.Tensor:
    """Apply ``augmenter`` to a uint8 image (H, W, C) or batch and return uint8 again.

    Images stay uint8 end to end so that training sees exactly the input type
    the deployed model gets from a camera or a file.
    """
    image = tf.convert_to_tensor(image)
    single = image.shape.rank == 3
    x = tf.cast(image[tf.newaxis] if single else image, tf.float32)
    # Always a batch: a Sequential that has seen a batch returns a single image
    # from RandomErasing with an extra axis (Keras 3.15).
    x = augmenter(x, training=True)
    x = tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
    return x[0] if single else x


def compute_class_weights(labels: np.ndarray, mode: str, num_classes: int = NUM_CLASSES) -> dict[int, float] | None:
    """Per-class loss weights from the training labels.

    Args:
        labels: Integer training labels.
        mode: ``"none"`` (returns None), ``"balanced"`` (n / (k * count)) or
            ``"sqrt"`` (square root of balanced: a gentler correction).
        num_classes: Number of classes.

    Returns:
        ``{class_index: weight}`` with mean weight 1 over examples, or None.

    Raises:
        ValueError: on an unknown mode, or a label outside 0..num_classes-1.
    """
    if mode == "none":
        return None
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"class weights of {num_classes} classes need labels 0-{num_classes - 1}; got {labels.max()}")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = len(labels) / (num_classes * np.maximum(counts, 1))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    elif mode != "balanced":
        raise ValueError(f"class_weight must be none, balanced or sqrt, got {mode!r}")
    weights /= (weights * counts).sum() / counts.sum()  # keep the average loss scale
    return {i: float(w) for i, w in enumerate(weights)}


def _as_distributions(ds: tf.data.Dataset, num_classes: int) -> tf.data.Dataset:
    """(image, target) with every class-index target one-hot; targets that are distributions already stay."""
    if ds.element_spec[1].shape.rank != 0:
        return ds
    return ds.map(lambda image, label: (image, tf.one_hot(label, num_classes)), num_parallel_calls=tf.data.AUTOTUNE)


def make_train_dataset(
    ds: tf.data.Dataset,
    config: TrainConfig,
    num_classes: int | None = None,
) -> tf.data.Dataset:
    """Batches of (uint8 image, target) for training: cached, shuffled, augmented, prefetched.

    Args:
        ds: Unbatched (image, target) pairs: a class index, or a distribution (soft labels).
        config: The configuration (shuffling seed, augmentation, batch size, batch mixing; ``soft_targets``
            decides whether class indices become one-hot distributions).
        num_classes: Classes of the one-hot targets; None: those of ``config.labels``.
    """
    num_classes = num_classes or len(label_mode_class_names(config.labels))
    ds = ds.cache()
    ds = ds.shuffle(_cardinality_or(ds, 30_000), seed=config.seed, reshuffle_each_iteration=True)
    augmenter = make_augmenter(config)
    if augmenter is not None:
        ds = ds.map(lambda image, label: (augment_image(augmenter, image), label), num_parallel_calls=tf.data.AUTOTUNE)
    if config.soft_targets:
        ds = _as_distributions(ds, num_classes)
    # Full batches only: every step has the same shape (no retrace for a last
    # short batch, which also trips MirroredStrategy in Keras 3.15), and since
    # the data are reshuffled each epoch, a different remainder is left out each time.
    ds = ds.batch(config.batch_size, drop_remainder=True)
    mixer = make_batch_mixer(config.mixup, config.cutmix, config.seed)
    if mixer is not None:
        ds = ds.map(mixer, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def make_eval_dataset(
    ds: tf.data.Dataset,
    batch_size: int,
    one_hot: bool = False,
    num_classes: int = NUM_CLASSES,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches of (uint8 image, target) for evaluation: cached, in order, not augmented.

    Targets that are distributions (soft labels) stay so; with ``one_hot`` (pass ``config.soft_targets``: the
    categorical loss takes distributions) class indices become one-hot vectors of ``num_classes``. ``drop_remainder``
    leaves out the last short batch; MirroredStrategy needs that (Keras 3.15 fails on a short batch split
    across replicas).
    """
    ds = ds.cache()
    if one_hot:
        ds = _as_distributions(ds, num_classes)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def dataset_to_arrays(ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """All (image, label) pairs of an unbatched dataset as two NumPy arrays."""
    images, labels = [], []
    for image, label in ds.batch(4096).as_numpy_iterator():
        images.append(image)
        labels.append(label)
    if not images:
        return np.zeros((0, *FACE_SHAPE), np.uint8), np.zeros((0,), np.int64)
    return np.concatenate(images), np.concatenate(labels)


def examples_to_arrays(ds: tf.data.Dataset) -> dict[str, np.ndarray]:
    """Every feature of an unbatched dataset of example dicts (``Fer2013Data.examples``) as NumPy arrays."""
    parts: dict[str, list[np.ndarray]] = {}
    for batch in ds.batch(4096).as_numpy_iterator():
        for name, values in batch.items():
            parts.setdefault(name, []).append(values)
    if not parts:
        spec = ds.element_spec
        return {name: np.zeros((0, *s.shape), s.dtype.as_numpy_dtype) for name, s in spec.items()}
    return {name: np.concatenate(values) for name, values in parts.items()}


def _cardinality_or(ds: tf.data.Dataset, default: int) -> int:
    n = int(ds.cardinality())
    return n if n > 0 else default
