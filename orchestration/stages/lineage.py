"""The lineage stage: the run's lineage record, with what the push did, in ``runs/<id>/lineage.json``."""

from __future__ import annotations

from typing import Any

from export.push import pushed_name
from orchestration.settings import PipelineSettings
from orchestration.stage_cache import run_dir
from orchestration.stage_results import CandidateResults, LineageResult, PushResult
from orchestration.stages.common import MANIFEST_FILE, decision_step
from pipeline.lineage import LINEAGE_FILE


def run_lineage(
    settings: PipelineSettings, run_id: str, candidate: CandidateResults, push: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The lineage record of a run (``pipeline.lineage.make_lineage``) from its stages' results.

    Args:
        settings: The run's settings.
        run_id: The run's id.
        candidate: The results of the stages that made and measured the candidate.
        push: What the push did (``PushResult.to_dict()``), or where it pushes to while pushing.

    Returns:
        The record, JSON-ready.
    """
    from pipeline.lineage import artifact_hashes, make_lineage

    data, train, export, bench = candidate.data, candidate.train, candidate.export, candidate.bench
    evaluation = candidate.evaluation
    # Named as in a pushed version (the SavedModel's files at its root); the export's manifest is not pushed.
    hashes = artifact_hashes(export.export_dir)
    artifacts = {pushed_name(name): h for name, h in hashes.items() if name != MANIFEST_FILE}
    candidate_keras, baseline = evaluation.candidate, evaluation.baseline
    return make_lineage(
        run_id,
        data.fingerprint,
        train.config,
        metrics={
            "split": candidate_keras.split,
            "keras": candidate_keras.metrics,
            "tflite-int8": evaluation.candidate_int8.metrics,
            "training": train.metrics,
        },
        blessing=evaluation.blessing.to_dict(),
        baseline={"path": baseline.model_dir, "chosen_as": evaluation.baseline_source, "metrics": baseline.metrics},
        extra={
            "artifacts": artifacts,
            "settings": settings.to_dict(),
            "command": settings.command(),
            "data": {
                "source": data.source,
                "splits": data.splits,
                "statistics": data.statistics,
                "report": data.report,
                "anomalies": data.anomalies,
            },
            "candidate_model_sha256": export.model_sha256,
            "stages": {
                name: result.provenance()
                for name, result in (("data", data), ("train", train), ("export", export), ("bench", bench))
            },
            "benchmark": bench.results,
            "push": push,
        },
    )


def lineage_stage(
    settings: PipelineSettings, run_id: str, candidate: CandidateResults, push: PushResult
) -> LineageResult:
    """Write the run's lineage (with what the push did) to ``runs/<id>/lineage.json``.

    Args:
        settings: The run's settings.
        run_id: The run's id.
        candidate: The results of the stages that made and measured the candidate.
        push: The push stage's result.

    Returns:
        The lineage's path, whether the candidate was blessed, and what the push did.
    """
    from pipeline.lineage import write_lineage

    def write() -> LineageResult:
        lineage = run_lineage(settings, run_id, candidate, push.to_dict())
        path = write_lineage(lineage, run_dir(settings.root, run_id) / LINEAGE_FILE)
        return LineageResult(
            lineage=str(path),
            blessed=candidate.evaluation.blessing.blessed,
            pushed=push.pushed,
            version=push.version,
            reason=push.reason,
        )

    return decision_step(LineageResult, settings, run_id, "lineage", write, lambda r: r.lineage)
