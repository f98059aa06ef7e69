"""Distillation from a teacher ensemble: the teachers, their targets, and a student trained on them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
from pipeline.distillation import distilled_targets, load_teachers, teacher_model_path, teacher_probabilities


def test_distilled_targets_mix_the_teacher_into_one_hot_or_soft_labels():
    teacher = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]], np.float32)
    np.testing.assert_allclose(distilled_targets(np.array([0, 1]), teacher, 0.5), [[0.75, 0.25, 0], [0, 0.6, 0.4]])
    soft = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], np.float32)
    np.testing.assert_allclose(distilled_targets(soft, teacher, 1.0), teacher)
    with pytest.raises(ValueError, match="must match"):
        distilled_targets(np.zeros((2, 4)), teacher, 0.5)


def test_teachers_are_found_by_run_directory_export_file_or_shipped_name(soft_run, exported):
    from model_zoo.pretrained import DEFAULT_MODEL, shipped_models

    assert teacher_model_path(str(soft_run)) == soft_run / "best.keras"
    assert teacher_model_path(str(exported.out_dir)) == exported.out_dir / "model.keras"
    assert teacher_model_path(str(soft_run / "model.keras")) == soft_run / "model.keras"
    assert teacher_model_path(DEFAULT_MODEL) == shipped_models()[DEFAULT_MODEL].path / "model.keras"
    with pytest.raises(FileNotFoundError, match="no shipped model of that name"):
        teacher_model_path("no_such_teacher")
    with pytest.raises(ValueError, match="names no model"):
        load_teachers(" , ")


def test_an_ensemble_teaches_over_the_students_classes(soft_run, smoke_run, examples):
    images = examples["validation"][0][:40, ..., None]
    (eight,) = load_teachers(str(soft_run))
    assert eight.class_names == FERPLUS_CLASS_NAMES
    # An 8-class FER+ teacher teaches a 7-class FER2013 student: its contempt column out, the rest renormalised.
    got = teacher_probabilities([eight], images, CLASS_NAMES)
    views = [eight.predictor.predict(v)[:, :7] for v in (images, images[:, :, ::-1])]
    want = np.mean([v / v.sum(axis=1, keepdims=True) for v in views], axis=0)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # Two teachers: the mean of each one's distribution.
    both = teacher_probabilities(load_teachers(f"{soft_run},{smoke_run}"), images, CLASS_NAMES)
    (seven,) = load_teachers(str(smoke_run))
    np.testing.assert_allclose(both, (got + teacher_probabilities([seven], images, CLASS_NAMES)) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="without the student's \\['Contempt'\\]"):
        teacher_probabilities([seven], images, FERPLUS_CLASS_NAMES)


def test_a_student_trains_on_an_ensembles_targets(tmp_path, fer_csv, data_dir, soft_run, smoke_run, caplog):
    from pipeline.config import resolve_config
    from pipeline.train import train

    config = resolve_config(
        "smoke",
        {
            "data": str(fer_csv),
            "data_dir": str(data_dir),
            "teacher": f"{soft_run},{smoke_run}",
            "distill_weight": 0.7,
            "cutmix": 1.0,
            "optimizer": "sgd-nesterov",
            "learning_rate": 0.01,
            "lr_schedule": "plateau",
            "verbose": 0,
        },
    )
    with caplog.at_level("INFO"):
        metrics = train(config, tmp_path / "student")
    assert "Distilling from" in caplog.text and "70 %" in caplog.text
    assert metrics["splits"]["validation"]["n"] > 0
    saved = json.loads((tmp_path / "student" / "config.json").read_text())
    assert saved["teacher"] == f"{soft_run},{smoke_run}" and saved["distill_weight"] == 0.7


@pytest.mark.parametrize(("preset", "recipe"), [("ferplus-distilled", "ferplus"), ("ship-distilled", "ship")])
def test_the_distilled_presets_are_their_recipe_taught_by_the_shipped_model_of_their_labels(preset, recipe):
    from model_zoo.constants import label_mode_class_names
    from pipeline.config import PRESETS, resolve_config

    config = resolve_config(preset)
    assert {k: v for k, v in PRESETS[preset].items() if k != "teacher"} == PRESETS[recipe]
    (teacher,) = load_teachers(config.teacher)  # a shipped model, with every class of the student
    assert teacher.class_names == label_mode_class_names(config.labels)
