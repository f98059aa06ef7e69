"""The push stage: a blessed candidate becomes the next version of ``push_dir``, with its card, lineage and data
statistics."""

from __future__ import annotations

import json
from pathlib import Path

from export.push import push as push_version
from export.push import pushed_versions
from orchestration.settings import PipelineSettings
from orchestration.stage_cache import run_dir
from orchestration.stage_results import CandidateResults, CardResult, PushResult
from orchestration.stages.common import STATISTICS_FILE, decision_step, write_json
from orchestration.stages.lineage import run_lineage
from pipeline.lineage import LINEAGE_FILE


def find_pushed(push_dir: str, model_sha256: str) -> Path | None:
    """The pushed version holding exactly this ``model.keras`` (by its sha256 in the version's lineage), if any.

    Args:
        push_dir: The versioned directory models are pushed to.
        model_sha256: The hash of the ``model.keras`` looked for.

    Returns:
        The version's directory, or None.
    """
    for version in reversed(pushed_versions(push_dir)):
        lineage = Path(push_dir) / str(version) / LINEAGE_FILE
        if lineage.exists() and json.loads(lineage.read_text()).get("candidate_model_sha256") == model_sha256:
            return lineage.parent
    return None


def push_stage(settings: PipelineSettings, run_id: str, candidate: CandidateResults, card: CardResult) -> PushResult:
    """Push a blessed candidate as the next version of ``push_dir``, with its card, lineage and data statistics.

    A candidate that is not blessed is not pushed; one already pushed (the same ``model.keras``) is not pushed twice.

    Args:
        settings: The run's settings.
        run_id: The run's id.
        candidate: The results of the stages that made and measured the candidate.
        card: The card stage's result (the card and its figures are pushed with the model).

    Returns:
        Whether this run added a version, the version holding the candidate (or None) and why nothing was pushed.
    """
    data, export = candidate.data, candidate.export

    def decide() -> PushResult:
        blessing = candidate.evaluation.blessing
        if not blessing.blessed:
            reason = "not blessed: " + "; ".join(blessing.reasons)
            return PushResult(pushed=False, version=None, path=None, reason=reason)
        existing = find_pushed(settings.push_dir, export.model_sha256)
        if existing is not None:
            reason = f"this model is already version {existing.name}"
            return PushResult(pushed=False, version=int(existing.name), path=str(existing), reason=reason)
        staging = run_dir(settings.root, run_id) / "push"
        staging.mkdir(exist_ok=True)
        lineage = run_lineage(settings, run_id, candidate, {"push_dir": str(settings.push_dir)})
        lineage_path = write_json(staging / LINEAGE_FILE, lineage)
        extra = {name: Path(path) for name, path in card.files.items()}
        extra |= {
            LINEAGE_FILE: lineage_path,
            STATISTICS_FILE: Path(data.statistics),
            Path(data.report).name: Path(data.report),
        }
        version = push_version(export.export_dir, settings.push_dir, extra)
        return PushResult(pushed=True, version=int(version.name), path=str(version), reason=None)

    def summary(result: PushResult) -> str:
        if result.pushed:
            return f"version {result.version} at {result.path}"
        return "nothing pushed: " + (result.reason if result.version else "not blessed (the reasons are above)")

    return decision_step(PushResult, settings, run_id, "push", decide, summary)
