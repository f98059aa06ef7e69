"""An 8-class (FER+) model through ``fer-export``: its classes travel with it, and the gate measures its labels."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from export.cli.export import main
from export.exporter import export_all
from export.from_data import export_from_data
from fer_runtime.predictors import load_backend, predict_in_batches
from model_zoo.artifacts import BACKENDS
from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES, read_labels


def test_an_8_class_export_names_the_fer_plus_classes_and_passes_the_gate_int8_included(eight_class):
    export = eight_class.export
    assert export.passed, export.report
    assert read_labels(export.out_dir) == FERPLUS_CLASS_NAMES  # named by the model's output width
    metadata = json.loads((export.out_dir / "metadata.json").read_text())
    assert metadata["class_names"] == list(FERPLUS_CLASS_NAMES) and metadata["labels"] == "ferplus-majority"
    assert metadata["outputs"].startswith("probabilities of the 8 classes in labels.txt order")
    int8 = export.report["artifacts"]["tflite-int8"]
    # The gate's own bar (a face or two of the 160 may flip under some seeds), not perfection.
    assert int8["passed"] and int8["top1_agreement"] >= 0.98 and int8["accuracy"] >= 0.98
    assert export.report["n"] == 160 and export.report["reference_accuracy"] == 1.0


def test_every_backend_of_an_8_class_export_gives_8_probabilities_even_for_no_face(eight_class):
    faces = eight_class.val_images[:3]
    for backend in BACKENDS:
        predictor = load_backend(eight_class.export.out_dir, backend)
        assert predictor.num_classes == 8, backend
        assert predictor.predict(faces).shape == (3, 8), backend
        empty = predict_in_batches(predictor, faces[:0])
        assert empty.shape == (0, 8) and empty.dtype == np.float32, backend


def test_fer_export_of_an_8_class_run_measures_the_gate_on_its_fer_plus_labels(
    eight_class, ferplus_csv, data_dir, tmp_path
):
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays

    run_dir = tmp_path / "run"
    shutil.copytree(eight_class.run_dir, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config |= {"data": str(ferplus_csv), "data_dir": str(data_dir), "ferplus": None}
    (run_dir / "config.json").write_text(json.dumps(config))
    out = tmp_path / "export"
    assert main([str(run_dir), "--out", str(out), "--representative-examples", "32"]) == 0
    assert read_labels(out) == FERPLUS_CLASS_NAMES
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["labels"] == "ferplus-majority" and metadata["class_names"] == list(FERPLUS_CLASS_NAMES)
    assert metadata["dataset"]["ferplus"] == str((ferplus_csv.parent / "fer2013new.csv").resolve())
    # The gate's faces are the validation faces FER+'s majority keeps, with their FER+ labels.
    fer = load_fer2013(ferplus_csv, data_dir, labels="ferplus-majority")
    faces, labels = dataset_to_arrays(fer.split("validation"))
    report = json.loads((out / "parity_report.json").read_text())
    probs = predict_in_batches(load_backend(out, "keras"), faces)
    assert report["n"] == len(labels) < 42 and 7 in labels  # some left out; contempt faces among them
    assert report["reference_accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == labels)))
    assert report["passed"] and report["artifacts"]["tflite-int8"]["passed"]


def test_classes_that_disagree_with_the_model_are_refused(eight_class, fer_csv, tmp_path):
    images, labels = eight_class.val_images[:8], eight_class.val_labels[:8]
    with pytest.raises(ValueError, match="outputs 8 probabilities but 7 class names"):
        export_all(eight_class.model_path, tmp_path / "a", images, labels, images, class_names=CLASS_NAMES)
    with pytest.raises(ValueError, match="Labels 'fer2013' have the classes"):
        export_all(eight_class.model_path, tmp_path / "b", images, labels, images, labels="fer2013")
    # A bare 8-class model: FER+'s classes, but which of its label modes? Asked before any face is read.
    with pytest.raises(ValueError, match="Pass them: ferplus-majority or ferplus-soft"):
        export_from_data(eight_class.model_path, tmp_path / "c", fer_csv)
    assert not list(tmp_path.iterdir())
