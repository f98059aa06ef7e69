"""The evaluate stage: the exported candidate and the baseline on the same faces, then the blessing.

The candidate is evaluated as exported (after the optional BatchNorm recalibration), so the blessed figures are
those of the files that get pushed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from export.push import latest_pushed
from orchestration.settings import PipelineSettings
from orchestration.stage_cache import run_dir
from orchestration.stage_results import (
    BlessingDecision,
    DataResult,
    EvaluationResult,
    ExportResult,
    ModelEvaluation,
)
from orchestration.stages.common import BLESSING_FILE, cached_result, decision_step, write_json
from pipeline.config import TrainConfig
from pipeline.lineage import file_sha256

#: Images and labels, as ``pipeline.input_pipeline.dataset_to_arrays`` returns them.
Faces = tuple[Any, Any]


def evaluate_stage(settings: PipelineSettings, run_id: str, data: DataResult, export: ExportResult) -> EvaluationResult:
    """Evaluate the exported candidate (Keras and int8) and the baseline on the same faces, then bless or not.

    Args:
        settings: The run's settings.
        run_id: The run's id.
        data: The data stage's result.
        export: The export stage's result (the candidate).

    Returns:
        The three evaluations, how the baseline was chosen and the blessing (written to ``runs/<id>/blessing.json``).

    Raises:
        FileNotFoundError: if the baseline holds no ``model.keras``.
    """
    config = settings.check()
    export_dir = Path(export.export_dir)
    faces = _evaluation_faces(config, data.evaluation_split())  # read once, if any evaluation is not cached

    def evaluate(model_dir: Path, backend: str, label: str) -> ModelEvaluation:
        return _evaluate(settings, config, run_id, data, model_dir, backend, label, faces)

    candidate = evaluate(export_dir, "keras", "candidate")
    candidate_int8 = evaluate(export_dir, "tflite-int8", "candidate-int8")
    baseline_dir, how = resolve_baseline(settings)
    baseline = evaluate(baseline_dir, "keras", "baseline")

    def decide() -> BlessingDecision:
        from pipeline.blessing import bless

        blessing = bless(candidate.metrics, baseline.metrics, settings.blessing_thresholds())
        decision = BlessingDecision(**blessing.to_dict(), baseline_model={"path": str(baseline_dir), "chosen_as": how})
        write_json(run_dir(settings.root, run_id) / BLESSING_FILE, decision.to_dict())
        return decision

    def summary(decision: BlessingDecision) -> str:
        return "blessed" if decision.blessed else "not blessed: " + "; ".join(decision.reasons)

    return EvaluationResult(
        candidate=candidate,
        candidate_int8=candidate_int8,
        baseline=baseline,
        baseline_source=how,
        blessing=decision_step(BlessingDecision, settings, run_id, "bless", decide, summary),
    )


def resolve_baseline(settings: PipelineSettings) -> tuple[Path, str]:
    """The model the candidate is compared with and how it was chosen.

    Args:
        settings: The run's settings.

    Returns:
        ``--baseline``, else the latest pushed version, else the shipped model; and a phrase saying which.
    """
    from model_zoo.pretrained import pretrained_artifacts_dir

    if settings.baseline:
        return Path(settings.baseline), "the model given with --baseline"
    latest = latest_pushed(settings.push_dir)
    if latest is not None:
        return latest, f"the latest pushed version ({latest.name})"
    return pretrained_artifacts_dir(), "the shipped model"


def _evaluation_faces(config: TrainConfig, split: str) -> Callable[[], Faces]:
    """A loader of the faces and labels models are compared on, which reads them once, when first asked."""

    @functools.cache
    def faces() -> Faces:
        from pipeline.fer2013_dataset import load_fer2013
        from pipeline.input_pipeline import dataset_to_arrays

        fer = load_fer2013(config.data, config.data_dir, config.skip_bad_rows)
        fer.split(split)  # a KeyError naming the splits present, if it is missing
        return dataset_to_arrays(fer.limited(config.max_train_examples, config.max_eval_examples)[split])

    return faces


def _evaluate(
    settings: PipelineSettings,
    config: TrainConfig,
    run_id: str,
    data: DataResult,
    model_dir: Path,
    backend: str,
    label: str,
    faces: Callable[[], Faces],
) -> ModelEvaluation:
    """Classification metrics of ``backend`` of ``model_dir`` on ``faces()``, cached by the file's hash."""
    from model_zoo.artifacts import artifact_path

    path = artifact_path(model_dir, backend)
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} has no {path.name}: it is not a fer-export directory or pushed version")
    split = data.evaluation_split()

    def compute(directory: Path) -> dict[str, Any]:
        from fer_runtime.predictors import load_backend
        from pipeline.evaluate import evaluate_arrays

        images, labels = faces()
        metrics = evaluate_arrays(load_backend(model_dir, backend), images, labels)
        return {"metrics": metrics, "split": split, "backend": backend}

    inputs = {
        "model": file_sha256(path),
        "backend": backend,
        "data": data.fingerprint,
        "split": split,
        "limit": config.max_eval_examples,
    }
    return cached_result(
        ModelEvaluation,
        settings,
        run_id,
        "evaluation",
        inputs,
        compute,
        lambda r: f"{label}: {r.backend} accuracy {r.metrics['accuracy']:.4f} on {r.split}",
        progress_name=f"evaluate-{label}",
        added={"model_dir": str(model_dir)},
    )
