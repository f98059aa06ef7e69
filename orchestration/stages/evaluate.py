"""The evaluate stage: the exported candidate and the baseline on the same faces, then the blessing.

The candidate is evaluated as exported (after the optional BatchNorm recalibration), so the blessed figures are
those of the files that get pushed.

The faces carry the training's labels (FER2013's, or FER+'s with contempt). Every model is scored over the classes
that the labels, the candidate and the baseline all have (``compared_classes``), with ``pipeline.metrics``'
``shared_classes``: a 7-class baseline against an 8-class FER+ candidate is compared over the seven FER2013
emotions, on the faces labelled with one of them, each model's choice its most probable of those seven.
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
    baseline_dir, how = resolve_baseline(settings)
    classes = compared_classes(config.labels, export_dir, baseline_dir)
    faces = _evaluation_faces(config, data.evaluation_split())  # read once, if any evaluation is not cached

    def evaluate(model_dir: Path, backend: str, label: str) -> ModelEvaluation:
        return _evaluate(settings, config, run_id, data, model_dir, backend, label, faces, classes)

    candidate = evaluate(export_dir, "keras", "candidate")
    candidate_int8 = evaluate(export_dir, "tflite-int8", "candidate-int8")
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


def compared_classes(labels: str, *model_dirs: Path) -> tuple[str, ...]:
    """The classes models are compared over: those of the label mode ``labels`` that every model has.

    Args:
        labels: The label mode of the faces (a key of ``LABEL_MODES``).
        model_dirs: Export directories or pushed versions; their ``labels.txt`` names their classes.

    Returns:
        The classes, in the labels' order.

    Raises:
        ValueError: if the models and the labels share no class.
    """
    from model_zoo.constants import label_mode_class_names, read_labels

    models = [read_labels(directory) for directory in model_dirs]
    classes = tuple(c for c in label_mode_class_names(labels) if all(c in names for names in models))
    if not classes:
        raise ValueError(f"The models in {[str(d) for d in model_dirs]} share no class with the {labels} labels")
    return classes


def _evaluation_faces(config: TrainConfig, split: str) -> Callable[[], Faces]:
    """A loader of the faces and labels (the training's label mode) models are compared on, which reads them once,
    when first asked."""

    @functools.cache
    def faces() -> Faces:
        from pipeline.fer2013_dataset import load_fer2013
        from pipeline.input_pipeline import dataset_to_arrays

        fer = load_fer2013(config.data, config.data_dir, config.skip_bad_rows, config.labels, config.ferplus)
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
    classes: tuple[str, ...],
) -> ModelEvaluation:
    """Classification metrics of ``backend`` of ``model_dir`` on ``faces()`` over ``classes``, cached by the file's
    hash, the labels and the classes."""
    from model_zoo.artifacts import artifact_path

    path = artifact_path(model_dir, backend)
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} has no {path.name}: it is not a fer-export directory or pushed version")
    split = data.evaluation_split()

    def compute(directory: Path) -> dict[str, Any]:
        from fer_runtime.predictors import load_backend, predict_in_batches
        from model_zoo.constants import label_mode_class_names
        from pipeline.evaluate import model_class_names
        from pipeline.metrics import classification_metrics, shared_classes

        images, labels = faces()
        probs = predict_in_batches(load_backend(model_dir, backend), images)
        model_classes = model_class_names(path, probs.shape[1])
        label_classes = label_mode_class_names(config.labels)
        probs, labels, names = shared_classes(probs, model_classes, labels, label_classes, classes)
        metrics = classification_metrics(labels, probs, names)
        return {"metrics": metrics, "split": split, "backend": backend, "model_classes": list(model_classes)}

    inputs = {
        "model": file_sha256(path),
        "backend": backend,
        "data": data.fingerprint,
        "split": split,
        "limit": config.max_eval_examples,
        "labels": config.labels,
        "classes": list(classes),
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
