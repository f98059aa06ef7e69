"""Mixing training batches: mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019).

Both pair each face of a batch with the face at the mirrored position of the batch (the
batch reversed: the batches are shuffled already, so the pairs are random) and draw one
proportion per batch from Beta(alpha, alpha), as the papers' reference code does:

* mixup blends the two images pixel by pixel, ``lam * a + (1 - lam) * b``;
* CutMix pastes a box of ``b`` covering ``1 - lam`` of the face into ``a``.

The targets mix in the proportion the image got (for CutMix, the box's area after clipping to
the face), so they must be distributions (``TrainConfig.soft_targets`` is true whenever either is
on). Images stay uint8, rounded: the model takes what a camera gives.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

Batch = tuple[tf.Tensor, tf.Tensor]


def sample_beta(alpha: float, seed: int | None = None) -> tf.Tensor:
    """One draw of Beta(alpha, alpha) as a float32 scalar tensor (from two Gamma draws)."""
    x = tf.random.gamma([], alpha, seed=seed)
    y = tf.random.gamma([], alpha, seed=None if seed is None else seed + 1)
    return x / tf.maximum(x + y, 1e-12)


def mixup_batch(images: tf.Tensor, targets: tf.Tensor, lam: tf.Tensor) -> Batch:
    """Blend a batch with itself reversed: ``lam`` of each image and target, ``1 - lam`` of its partner's.

    Args:
        images: uint8 (N, H, W, C) faces.
        targets: float (N, K) distributions.
        lam: The share of each face's own image, a scalar in [0, 1].

    Returns:
        The mixed uint8 images and float32 targets.
    """
    lam = tf.cast(lam, tf.float32)
    x = tf.cast(images, tf.float32)
    mixed = lam * x + (1.0 - lam) * tf.reverse(x, axis=[0])
    y = tf.cast(targets, tf.float32)
    return _to_uint8(mixed), lam * y + (1.0 - lam) * tf.reverse(y, axis=[0])


def cutmix_batch(images: tf.Tensor, targets: tf.Tensor, lam: tf.Tensor, center: tf.Tensor) -> Batch:
    """Paste into each face a box of its partner's (the batch reversed), and mix the targets by area.

    Args:
        images: uint8 (N, H, W, C) faces.
        targets: float (N, K) distributions.
        lam: The share of the face to keep, a scalar in [0, 1]: the box's sides are ``sqrt(1 - lam)`` of the
            face's, before clipping to the face.
        center: The box's centre as fractions (row, column) of the face, two floats in [0, 1].

    Returns:
        The mixed uint8 images and float32 targets, the targets weighted by the area actually pasted.
    """
    shape = tf.shape(images)
    height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    side = tf.sqrt(1.0 - tf.cast(lam, tf.float32))
    center = tf.cast(center, tf.float32)
    top = tf.clip_by_value(tf.round(center[0] * height - side * height / 2), 0, height)
    bottom = tf.clip_by_value(tf.round(center[0] * height + side * height / 2), 0, height)
    left = tf.clip_by_value(tf.round(center[1] * width - side * width / 2), 0, width)
    right = tf.clip_by_value(tf.round(center[1] * width + side * width / 2), 0, width)
    rows = tf.range(height)[:, tf.newaxis]
    cols = tf.range(width)[tf.newaxis, :]
    box = (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)  # (H, W)
    mixed = tf.where(box[tf.newaxis, :, :, tf.newaxis], tf.reverse(images, axis=[0]), images)
    kept = 1.0 - (bottom - top) * (right - left) / (height * width)
    y = tf.cast(targets, tf.float32)
    return mixed, kept * y + (1.0 - kept) * tf.reverse(y, axis=[0])


def make_batch_mixer(mixup: float = 0.0, cutmix: float = 0.0, seed: int = 0) -> Callable[..., Batch] | None:
    """The ``tf.data`` map function that mixes batches, or None when both are off.

    Args:
        mixup: Beta parameter of mixup (0: off).
        cutmix: Beta parameter of CutMix (0: off).
        seed: Seed of the random draws.

    Raises:
        ValueError: if both are on (each batch is mixed one way).
    """
    if mixup > 0 and cutmix > 0:
        raise ValueError("mix batches with mixup or with CutMix, not both")
    if mixup > 0:
        return lambda images, targets: mixup_batch(images, targets, sample_beta(mixup, seed))
    if cutmix > 0:
        return lambda images, targets: cutmix_batch(
            images, targets, sample_beta(cutmix, seed), tf.random.uniform([2], seed=seed + 2)
        )
    return None


def _to_uint8(x: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
