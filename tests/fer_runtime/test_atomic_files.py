"""The one atomic writer: a file appears whole or not at all, and an error leaves the old one in place."""

import pytest

from fer_runtime.atomic_files import atomic_path, save_model_atomic, write_bytes_atomic, write_text_atomic


def test_writes_replace_the_file_and_leave_nothing_beside_it(tmp_path):
    target = tmp_path / "out.json"
    write_text_atomic(target, "first")
    write_text_atomic(target, "second")
    write_bytes_atomic(tmp_path / "img.jpg", b"\xff\xd8")
    assert target.read_text() == "second" and (tmp_path / "img.jpg").read_bytes() == b"\xff\xd8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.jpg", "out.json"]


def test_an_error_mid_write_keeps_the_old_file_and_removes_the_partial_one(tmp_path):
    target = tmp_path / "records.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as staging:
            staging.write_text("half")
            assert staging.parent == tmp_path and staging.suffix == ".csv" and staging.name.startswith(".")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["records.csv"]


def test_the_staging_suffix_can_be_chosen_for_writers_that_insist(tmp_path):
    with atomic_path(tmp_path / "model.bin", suffix=".keras") as staging:
        assert staging.suffix == ".keras" and not staging.exists()
        staging.write_text("x")
    assert (tmp_path / "model.bin").read_text() == "x"


def test_save_model_atomic_saves_a_keras_model_loadable_back(tmp_path):
    import keras
    import numpy as np

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    save_model_atomic(model, tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.ones((1, 3), np.float32)
    np.testing.assert_allclose(reloaded.predict_on_batch(x), model.predict_on_batch(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]
