"""The stages' results: frozen records, JSON only where KFP passes them between components."""

from __future__ import annotations

import dataclasses
import json

import pytest

from orchestration.settings import PipelineSettings
from orchestration.stage_results import (
    BenchResult,
    BlessingDecision,
    CandidateResults,
    DataResult,
    EvaluationResult,
    ExportResult,
    ModelEvaluation,
    PushResult,
    TrainResult,
)
from orchestration.stages import upstream_results
from orchestration.stages.common import decision_step

CACHED = {"stage_dir": "/s", "key": "k", "seconds": 1.5, "code": {"git_commit": None}}


def evaluation(model_dir: str) -> ModelEvaluation:
    """An evaluation of the model in ``model_dir``."""
    return ModelEvaluation(**CACHED, metrics={"accuracy": 0.5, "n": 3}, split="test", backend="keras",
                           model_dir=model_dir, model_classes=["Happy", "Sad"])  # fmt: skip


def test_a_result_goes_through_json_and_back_nested_records_too():
    blessing = BlessingDecision(blessed=False, reasons=["worse"], candidate={}, baseline=None, thresholds={},
                                baseline_model={"path": "/b", "chosen_as": "the shipped model"})  # fmt: skip
    result = EvaluationResult(candidate=evaluation("/c"), candidate_int8=evaluation("/c"), baseline=evaluation("/b"),
                              baseline_source="the shipped model", blessing=blessing)  # fmt: skip
    values = json.loads(json.dumps(result.to_dict()))
    assert values["baseline"]["model_dir"] == "/b" and values["blessing"]["reasons"] == ["worse"]
    assert EvaluationResult.from_dict(values) == result
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.baseline_source = "another"  # type: ignore[misc]


def test_a_result_with_a_field_its_record_does_not_know_is_refused():
    with pytest.raises(ValueError, match=r"PushResult has no field\(s\) \['pushed_to'\]"):
        PushResult.from_dict({"pushed": True, "version": 1, "path": "/p/1", "reason": None, "pushed_to": "/p"})


def test_the_five_results_of_a_candidate_reach_the_late_stages_as_one():
    data = DataResult(**CACHED, fingerprint="f", splits={"test": 3}, statistics="", source="", report="",
                      anomalies=[], previous=None)  # fmt: skip
    assert data.evaluation_split() == "test"
    assert upstream_results({"data": json.dumps(data.to_dict())}) == {"data": data}  # the train stage's
    blessing = BlessingDecision(blessed=True, reasons=[], candidate={}, baseline=None, thresholds={},
                                baseline_model={})  # fmt: skip
    candidate = CandidateResults(
        data=data,
        train=TrainResult(**CACHED, run_dir="/r", model="/r/m.keras", model_sha256="a", config={}, metrics={}),
        export=ExportResult(**CACHED, export_dir="/e", model_sha256="b", parity={"tflite-int8": True}),
        evaluation=EvaluationResult(candidate=evaluation("/e"), candidate_int8=evaluation("/e"),
                                    baseline=evaluation("/b"), baseline_source="", blessing=blessing),
        bench=BenchResult(**CACHED, results=[], json="/j", table="/t", plot="/p"),
    )  # fmt: skip
    push = PushResult(pushed=False, version=None, path=None, reason="not blessed: worse", seconds=0.1)
    upstream = {
        field.name: json.dumps(getattr(candidate, field.name).to_dict()) for field in dataclasses.fields(candidate)
    }
    assert upstream_results(upstream | {"push": json.dumps(push.to_dict())}) == {"candidate": candidate, "push": push}


def test_a_decision_step_records_its_seconds_when_its_record_has_them(tmp_path):
    settings = PipelineSettings(root=str(tmp_path))
    push = PushResult(pushed=False, version=None, path=None, reason="not blessed: worse")
    done = decision_step(PushResult, settings, "r1", "push", lambda: push, lambda r: r.reason or "")
    assert done.seconds is not None and dataclasses.replace(done, seconds=None) == push
    blessing = BlessingDecision(blessed=True, reasons=[], candidate={}, baseline=None, thresholds={},
                                baseline_model={})  # fmt: skip
    assert decision_step(BlessingDecision, settings, "r1", "bless", lambda: blessing, lambda r: "blessed") == blessing
