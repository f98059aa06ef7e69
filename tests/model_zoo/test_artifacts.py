"""The artifact table (``model_zoo.artifacts``) and the shared facts (``model_zoo.constants``)."""

import numpy as np
import pytest

from fer_runtime.predictors import load_backend
from model_zoo.artifacts import (
    ARTIFACTS,
    BACKENDS,
    DEFAULT_BACKEND,
    TFLITE_ARTIFACTS,
    TFLITE_VARIANTS,
    artifact,
    artifact_path,
    available_backends,
    check_backend,
    tflite_artifact,
)
from model_zoo.constants import CLASS_NAMES, LABELS_FILE, NUM_CLASSES, read_labels, write_labels

FACES = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 1), dtype=np.uint8)


def test_the_table_names_every_backend_once():
    assert BACKENDS == (
        "keras",
        "keras-eager",
        "saved_model",
        "tflite-fp32",
        "tflite-fp16",
        "tflite-dynamic",
        "tflite-int8",
    )
    assert DEFAULT_BACKEND in BACKENDS
    assert TFLITE_VARIANTS == ("float32", "float16", "dynamic", "int8")
    assert [a.backend for a in TFLITE_ARTIFACTS] == ["tflite-fp32", "tflite-fp16", "tflite-dynamic", "tflite-int8"]
    # Both Keras backends run model.keras; every other backend has a file of its own.
    files = [a.file for a in ARTIFACTS]
    assert artifact("keras").file == artifact("keras-eager").file == "model.keras"
    assert len(set(files)) == len(files) - 1
    assert all(a.description for a in ARTIFACTS)


def test_every_backend_has_its_file_in_an_export(exported):
    for backend in BACKENDS:
        assert artifact_path(exported.out_dir, backend).exists(), backend
    assert available_backends(exported.out_dir) == list(BACKENDS)


def test_available_backends_come_in_table_order_whatever_exists(exported, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("model_int8.tflite", "model_float32.tflite"):  # written in the opposite order
        (partial / name).write_bytes((exported.out_dir / name).read_bytes())
    assert available_backends(partial) == ["tflite-fp32", "tflite-int8"]
    assert available_backends(tmp_path / "nothing") == []


def test_backend_names_are_checked_against_the_table():
    assert all(check_backend(b) == b for b in BACKENDS)
    assert artifact("tflite-fp32").file == "model_float32.tflite"
    assert tflite_artifact("int8").file == "model_int8.tflite"
    for removed in ("tflite_int8", "keras_call", "tflite:model_float16"):  # names before the table: refused
        with pytest.raises(ValueError, match="Unknown backend"):
            check_backend(removed)


def test_unknown_names_are_refused_with_the_list_of_backends(tmp_path):
    for call in (check_backend, artifact, lambda name: artifact_path(tmp_path, name)):
        with pytest.raises(ValueError, match="Unknown backend 'onnx'; choose from " + ", ".join(BACKENDS)):
            call("onnx")
    with pytest.raises(ValueError, match="Unknown TFLite variant 'int4'"):
        tflite_artifact("int4")


def test_predictors_carry_their_backend_name(exported, tmp_path):
    for backend in BACKENDS:
        predictor = load_backend(exported.out_dir, backend)
        assert predictor.name == backend
        assert predictor.predict(FACES).shape == (2, NUM_CLASSES), backend
    with pytest.raises(FileNotFoundError, match="needs .*model_int8.tflite, which is missing; run fer-export first"):
        load_backend(tmp_path, "tflite-int8")
    with pytest.raises(ValueError, match="Unknown backend"):
        load_backend(exported.out_dir, "onnx")


def test_labels_round_trip(tmp_path):
    assert len(CLASS_NAMES) == NUM_CLASSES == 7 and CLASS_NAMES[1] == "Disgust" and CLASS_NAMES[6] == "Neutral"
    assert read_labels(tmp_path) == CLASS_NAMES  # no labels.txt: the FER2013 classes
    path = write_labels(tmp_path)
    assert path == tmp_path / LABELS_FILE and path.read_text() == "\n".join(CLASS_NAMES) + "\n"
    assert read_labels(tmp_path) == CLASS_NAMES
    write_labels(tmp_path, ("a", "b"))
    assert read_labels(tmp_path) == ("a", "b")
    path.write_text("a\n\n b \n")  # blank lines and surrounding spaces do not count
    assert read_labels(tmp_path) == ("a", "b")
    path.write_text("a\nb\na\n")
    with pytest.raises(ValueError, match="one distinct class name per line"):
        read_labels(tmp_path)


def test_a_models_output_width_names_its_classes_when_nothing_else_does():
    from model_zoo.constants import FERPLUS_CLASS_NAMES, class_names_for_width

    assert class_names_for_width(7) == CLASS_NAMES
    assert class_names_for_width(8) == FERPLUS_CLASS_NAMES and FERPLUS_CLASS_NAMES[-1] == "Contempt"
    with pytest.raises(ValueError, match="6 outputs has no known classes .*7 or 8.*labels.txt"):
        class_names_for_width(6)
