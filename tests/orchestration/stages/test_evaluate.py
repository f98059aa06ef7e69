"""The evaluate stage: the candidate against the baseline on the same faces, and the blessing."""

from __future__ import annotations

import json

import pytest

from orchestration.cli import NOT_BLESSED
from tests.orchestration.pipeline_runs import invoke, states


def test_a_candidate_worse_than_the_baseline_is_not_pushed_and_the_run_says_why(smoke_pipeline, exported, tmp_path):
    root, push_dir = smoke_pipeline["root"], tmp_path / "push"
    # The baseline: the tiny model trained to near 100 % on faces like these; the smoke candidate guesses.
    code, out, err = invoke(*smoke_pipeline["common"], "--push-dir", str(push_dir), "--baseline",
                            str(exported.out_dir), "--run-id", "worse")  # fmt: skip
    assert code == NOT_BLESSED, out[-3000:] + err[-3000:]
    assert "NOT PUSHED, not blessed:\n  - accuracy" in out and "below the baseline's" in out
    assert not push_dir.exists() or not list(push_dir.iterdir())
    blessing = json.loads((root / "runs" / "worse" / "blessing.json").read_text())
    assert blessing["blessed"] is False and blessing["baseline"]["accuracy"] > blessing["candidate"]["accuracy"] + 0.5
    assert blessing["baseline_model"] == {"path": str(exported.out_dir), "chosen_as": "the model given with --baseline"}
    lineage = json.loads((root / "runs" / "worse" / "lineage.json").read_text())
    assert lineage["push"]["pushed"] is False and lineage["push"]["reason"].startswith("not blessed")
    assert states(root, "worse")["train"] == "reused"


def test_an_8_class_candidate_and_a_7_class_baseline_are_compared_over_their_shared_classes(
    eight_class, exported, ferplus_csv, data_dir, tmp_path
):
    import numpy as np

    from fer_runtime.predictors import load_backend, predict_in_batches
    from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
    from orchestration.settings import PipelineSettings
    from orchestration.stage_results import DataResult, ExportResult
    from orchestration.stages import evaluate_stage
    from orchestration.stages.evaluate import compared_classes
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.input_pipeline import dataset_to_arrays

    cached = {"stage_dir": "", "key": "", "seconds": 0.0, "code": {}}
    data = DataResult(**cached, fingerprint="ferplus-generated", splits={"train": 70, "validation": 21, "test": 18},
                      statistics="", source=str(ferplus_csv), report="", anomalies=[], previous=None)  # fmt: skip
    candidate_dir = eight_class.export.out_dir
    export = ExportResult(**cached, export_dir=str(candidate_dir), model_sha256="", parity={})
    overrides = {"data": str(ferplus_csv), "data_dir": str(data_dir), "labels": "ferplus-majority"}
    settings = PipelineSettings(root=str(tmp_path), baseline=str(exported.out_dir), max_accuracy_drop=1.0,
                                max_recall_drop=1.0, overrides=overrides)  # fmt: skip
    result = evaluate_stage(settings, "eight", data, export)

    assert result.candidate.model_classes == list(FERPLUS_CLASS_NAMES)
    assert result.baseline.model_classes == list(CLASS_NAMES)
    for evaluation in (result.candidate, result.candidate_int8, result.baseline):
        assert list(evaluation.metrics["per_class"]) == list(CLASS_NAMES)
    # The same faces for both: the test faces whose FER+ label is one of the seven.
    faces, labels = dataset_to_arrays(load_fer2013(ferplus_csv, data_dir, labels="ferplus-majority").split("test"))
    kept = labels < 7
    assert 0 < result.candidate.metrics["n"] == result.baseline.metrics["n"] == kept.sum() < len(labels)
    # The candidate's choice: its most probable of the seven.
    probs = predict_in_batches(load_backend(candidate_dir, "keras"), faces)
    by_hand = float(np.mean(probs[kept, :7].argmax(1) == labels[kept]))
    assert result.candidate.metrics["accuracy"] == pytest.approx(by_hand)
    blessing = json.loads((tmp_path / "runs" / "eight" / "blessing.json").read_text())
    assert blessing["blessed"] and blessing["candidate"]["classes"] == list(CLASS_NAMES)
    # Two 8-class models on FER+ labels are compared over all eight; on FER2013's labels, over the seven.
    assert compared_classes("ferplus-majority", candidate_dir, candidate_dir) == FERPLUS_CLASS_NAMES
    assert compared_classes("fer2013", candidate_dir, candidate_dir) == CLASS_NAMES
