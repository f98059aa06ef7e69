"""Mixing training batches: mixup and CutMix (``pipeline.batch_mixing``) and their place in the input pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from pipeline.batch_mixing import cutmix_batch, make_batch_mixer, mixup_batch, sample_beta
from pipeline.config import resolve_config
from pipeline.input_pipeline import make_train_dataset


def _two_faces():
    """A black face of class 0 and a face of 200 of class 1: what each pixel and target holds tells its source."""
    images = np.stack([np.zeros((48, 48, 1), np.uint8), np.full((48, 48, 1), 200, np.uint8)])
    return images, np.eye(2, dtype=np.float32)


def test_mixup_blends_each_face_and_target_with_its_partner_in_the_same_proportion():
    images, targets = _two_faces()
    mixed, mixed_targets = mixup_batch(images, targets, 0.25)
    assert mixed.dtype == tf.uint8
    assert np.unique(mixed.numpy()[0]).tolist() == [150] and np.unique(mixed.numpy()[1]).tolist() == [50]
    np.testing.assert_allclose(mixed_targets.numpy(), [[0.25, 0.75], [0.75, 0.25]])


@pytest.mark.parametrize(("center", "pasted"), [((0.5, 0.5), 0.25), ((0.0, 0.0), 0.0625), ((1.0, 0.5), 0.125)])
def test_cutmix_pastes_a_box_of_the_partner_and_weighs_targets_by_the_area_pasted(center, pasted):
    images, targets = _two_faces()
    mixed, mixed_targets = cutmix_batch(images, targets, 0.75, tf.constant(center))
    share = (mixed.numpy()[0] == 200).mean()  # the box's sides are half the face's, clipped at the edges
    assert share == pytest.approx(pasted)
    assert (mixed.numpy()[1] == 0).mean() == pytest.approx(pasted)
    np.testing.assert_allclose(mixed_targets.numpy()[0], [1 - share, share], atol=1e-6)
    np.testing.assert_allclose(mixed_targets.numpy().sum(axis=1), 1.0, atol=1e-6)


def test_beta_draws_stay_in_the_unit_interval_and_follow_alpha():
    small = np.array([float(sample_beta(0.2)) for _ in range(300)])
    large = np.array([float(sample_beta(8.0)) for _ in range(300)])
    assert ((small >= 0) & (small <= 1)).all() and ((large >= 0) & (large <= 1)).all()
    # Beta(0.2, 0.2) piles up at 0 and 1 (mostly one face); Beta(8, 8) near 0.5 (both faces alike).
    assert np.abs(small - 0.5).mean() > 0.3 > np.abs(large - 0.5).mean()


def test_the_mixer_is_off_by_default_and_refuses_both_ways_at_once():
    assert make_batch_mixer() is None
    with pytest.raises(ValueError, match="not both"):
        make_batch_mixer(mixup=0.2, cutmix=1.0)


@pytest.mark.parametrize("mixing", [{"mixup": 0.4}, {"cutmix": 1.0}])
def test_train_dataset_mixes_batches_into_distributions(mixing):
    images = np.concatenate([np.zeros((16, 48, 48, 1), np.uint8), np.full((16, 48, 48, 1), 200, np.uint8)])
    labels = np.array([0] * 16 + [1] * 16)
    config = resolve_config("seed", {"batch_size": 32, "augment": False, **mixing})
    assert config.soft_targets  # mixed targets are distributions: the loss is categorical
    ds = make_train_dataset(tf.data.Dataset.from_tensor_slices((images, labels)), config, num_classes=7)
    batch_images, targets = next(iter(ds))
    assert targets.shape == (32, 7) and np.allclose(targets.numpy().sum(axis=1), 1.0)
    if "mixup" in mixing:  # blended pixels
        assert (~np.isin(batch_images.numpy(), [0, 200])).any()
    else:  # pasted boxes
        assert any((img == 0).any() and (img == 200).any() for img in batch_images.numpy())
    # Each face's target says how much of each class its pixels came from.
    brightness = batch_images.numpy().reshape(32, -1).mean(axis=1) / 200
    np.testing.assert_allclose(targets.numpy()[:, 1], brightness, atol=0.01)


def test_mixing_settings_are_checked():
    with pytest.raises(ValueError, match="pass one of --mixup or --cutmix"):
        resolve_config("seed", {"mixup": 0.2, "cutmix": 1.0})
    with pytest.raises(ValueError, match="Beta parameters >= 0"):
        resolve_config("seed", {"mixup": -1.0})
