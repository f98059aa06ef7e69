import keras
import numpy as np
import pytest

from model_zoo import CLASS_NAMES, FacePreprocessing, create_model, list_models, load_model

EXPECTED_LAYERS = (
    ["InputLayer", "FacePreprocessing"]
    + ["Conv2D", "BatchNormalization", "Activation"] * 2
    + ["MaxPooling2D", "Dropout"]
    + ["Conv2D", "BatchNormalization", "Activation"] * 2
    + ["MaxPooling2D", "Dropout"]
    + ["Conv2D", "BatchNormalization", "Activation"] * 2
    + ["MaxPooling2D", "Dropout"]
    + ["Flatten", "Dense", "BatchNormalization", "Activation", "Dropout", "Dense"]
)


def test_registry_lists_and_rejects_unknown():
    assert {"seed_cnn", "seed_cnn_tiny"} <= set(list_models())
    assert list_models("seed_cnn_t*") == ["seed_cnn_tiny"]
    with pytest.raises(ValueError, match="Unknown model 'nope'.*seed_cnn"):
        create_model("nope")


def test_seed_cnn_is_the_documented_architecture():
    model = create_model("seed_cnn", input_shape=(48, 48, 1))
    assert [type(layer).__name__ for layer in model.layers] == EXPECTED_LAYERS
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 32, 64, 64, 128, 128]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert [d.units for d in dense] == [256, 7]
    assert dense[-1].activation.__name__ == "softmax"
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 1_469_543
    assert model.count_params() == 1_470_951
    assert model.output_shape == (None, 7)
    assert len(CLASS_NAMES) == 7 and CLASS_NAMES[1] == "Disgust" and CLASS_NAMES[6] == "Neutral"


@pytest.mark.parametrize("shape", [(2, 48, 48, 1), (3, 96, 64, 3), (1, 30, 41, 1), (2, 200, 200, 3)])
def test_any_size_gray_or_rgb_is_accepted(shape):
    model = create_model("seed_cnn_tiny")
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    probs = np.asarray(model(images, training=False))
    assert probs.shape == (shape[0], 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_preprocessing_matches_manual_gray_resize_rescale():
    import tensorflow as tf

    rgb = np.random.default_rng(1).integers(0, 256, (2, 96, 72, 3), dtype=np.uint8)
    layer = FacePreprocessing(48, 48)
    out = np.asarray(layer(rgb))
    gray = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    expected = tf.image.resize(gray[..., None], (48, 48)).numpy() / 255.0
    assert out.shape == (2, 48, 48, 1)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert 0.0 <= out.min() and out.max() <= 1.0
    # A 48x48 gray face passes through unresized, only rescaled.
    face = rgb[:1, :48, :48, :1]
    np.testing.assert_allclose(np.asarray(layer(face)), face / 255.0, atol=1e-6)


def test_gray_and_rgb_copies_of_one_face_agree():
    model = create_model("seed_cnn_tiny")
    gray = np.random.default_rng(2).integers(0, 256, (1, 48, 48, 1), dtype=np.uint8)
    rgb = np.repeat(gray, 3, axis=-1)
    np.testing.assert_allclose(model(gray, training=False), model(rgb, training=False), atol=1e-4)


def test_four_channels_are_rejected_with_a_clear_error():
    import tensorflow as tf

    with pytest.raises(ValueError, match="1 \\(gray\\) or 3 \\(RGB\\) channels"):
        create_model("seed_cnn_tiny", input_shape=(48, 48, 4))
    # With the channel count unknown until run time, the graph itself refuses.
    model = create_model("seed_cnn_tiny")
    serve = tf.function(
        lambda x: model(x, training=False), input_signature=[tf.TensorSpec((None, None, None, None), tf.uint8)]
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="1 \\(gray\\) or 3 \\(RGB\\) channels"):
        serve(np.zeros((1, 48, 48, 4), np.uint8))


def test_preprocessing_adds_no_weights():
    model = create_model("seed_cnn_tiny", input_shape=(48, 48, 1))
    assert model.get_layer("preprocessing").weights == []


def test_keras_file_round_trip_needs_no_custom_objects(tmp_path):
    model = create_model("seed_cnn_tiny")
    path = tmp_path / "m.keras"
    model.save(path)
    images = np.random.default_rng(3).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    for reloaded in (keras.models.load_model(path), load_model(path)):
        np.testing.assert_allclose(model(images, training=False), reloaded(images, training=False), atol=1e-6)


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No model at"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "m.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="not a .keras file"):
        load_model(tmp_path / "m.h5")


def test_cpu_has_bfloat16_reads_the_cpu_flags():
    from model_zoo.precision import cpu_has_bfloat16

    assert cpu_has_bfloat16("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 fma\n") is True
    assert cpu_has_bfloat16("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f fma\n") is False
    assert cpu_has_bfloat16("Processor\t: ARMv7\n") is None  # no flags line: unknown, no warning


def test_batchnorm_recalibration_restores_a_broken_model(trained_tiny_model):
    from model_zoo.batchnorm_recalibration import recalibrate_batchnorm

    path, x_val, y_val, x_train = trained_tiny_model
    model = load_model(path)
    trainable_before = [v.numpy().copy() for v in model.trainable_variables]

    def accuracy():
        return float((model.predict(x_val, verbose=0).argmax(axis=1) == y_val).mean())

    trained_accuracy = accuracy()
    for layer in model.layers:  # statistics far from the data: the model breaks
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(layer.moving_mean + 3.0)
            layer.moving_variance.assign(layer.moving_variance * 9.0)
    assert accuracy() < trained_accuracy - 0.2
    model.trainable = False  # frozen BatchNorm layers are recalibrated too
    recalibrate_batchnorm(model, x_train, batch_size=64)
    assert accuracy() >= trained_accuracy - 0.03
    assert not model.trainable and model.get_layer("block1_bn1").momentum == 0.99
    for before, after in zip(trainable_before, model.trainable_variables):
        np.testing.assert_array_equal(before, after.numpy())


def test_batchnorm_recalibration_sets_population_statistics_with_dropout_off():
    from model_zoo.batchnorm_recalibration import recalibrate_batchnorm

    keras.utils.set_random_seed(3)
    model = create_model("seed_cnn_tiny", conv_dropout=0.4, dense_dropout=0.5)
    faces = np.random.default_rng(3).integers(0, 256, (600, 48, 48, 1), dtype=np.uint8)
    recalibrate_batchnorm(model, faces, batch_size=100)
    assert model.get_layer("block1_dropout").rate == 0.4 and model.get_layer("dense_dropout").rate == 0.5
    # Each BatchNorm's statistics are those of its inputs as served: at inference, after the
    # block-1 dropout (which, left on, would inflate block 2's variance by 1 / (1 - 0.4)).
    for conv, bn in (("block1_conv1", "block1_bn1"), ("block2_conv1", "block2_bn1")):
        x = keras.Model(model.inputs, model.get_layer(conv).output).predict(faces, verbose=0)
        layer = model.get_layer(bn)
        np.testing.assert_allclose(layer.moving_mean.numpy(), x.mean(axis=(0, 1, 2)), atol=0.05 * x.std())
        np.testing.assert_allclose(layer.moving_variance.numpy(), x.var(axis=(0, 1, 2)), rtol=0.1)


def test_batchnorm_recalibration_errors_leave_the_model_as_it_was():
    from model_zoo.batchnorm_recalibration import recalibrate_batchnorm

    model = create_model("seed_cnn_tiny")
    bn = model.get_layer("block1_bn1")
    faces = np.zeros((2, 48, 48, 1), np.uint8)
    with pytest.raises(ValueError, match="at least one image"):
        recalibrate_batchnorm(model, faces[:0])
    with pytest.raises(ValueError):  # the second batch is not an image: the forward pass fails
        recalibrate_batchnorm(model, [faces[0] + 50, np.zeros((48,), np.uint8)], batch_size=1)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0.0)  # not left half-recomputed
    assert bn.momentum == 0.99
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="no BatchNormalization"):
        recalibrate_batchnorm(plain, np.zeros((2, 4)))
    noisy = keras.Sequential(
        [keras.Input((4,)), keras.layers.GaussianNoise(0.1), keras.layers.BatchNormalization()], name="noisy"
    )
    with pytest.raises(ValueError, match="random in training mode"):
        recalibrate_batchnorm(noisy, np.zeros((2, 4)))
