"""The export stage: SavedModel, .keras and four TFLite files, behind the parity gate.

The export carries the run's classes (its ``labels.txt``) and the gate measures accuracy on the labels the model was
trained on (the training's ``labels`` and ``ferplus``; ``export.from_data``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestration.settings import PipelineSettings
from orchestration.stage_results import DataResult, ExportResult, TrainResult
from orchestration.stages.common import StageError, cached_result
from pipeline.lineage import file_sha256


def export_stage(settings: PipelineSettings, run_id: str, data: DataResult, train: TrainResult) -> ExportResult:
    """Export the trained model (SavedModel, .keras, four TFLite files) behind the parity gate.

    Args:
        settings: The run's settings.
        run_id: The run's id.
        data: The data stage's result.
        train: The train stage's result (the checkpoint exported).

    Returns:
        The export directory, the sha256 of its ``model.keras`` (what identifies a pushed model) and the parity
        report's verdict per backend.

    Raises:
        StageError: if an artifact fails the parity gate (the report stays in the stage directory).
    """
    config = settings.check()

    def compute(directory: Path) -> dict[str, Any]:
        from export.from_data import export_from_data
        from export.parity import format_parity_report

        out = directory / "export"
        result = export_from_data(
            train.model,
            out,
            config.data,
            config.data_dir,
            settings.parity_examples,
            settings.representative_examples,
            settings.recalibrate_batchnorm_faces,
            training_config=train.config,
            seed=config.seed,
            skip_bad_rows=config.skip_bad_rows,
            overwrite=True,
            extra_metadata={"data_fingerprint": data.fingerprint},
            labels=config.labels,
            ferplus=config.ferplus,
        )
        if not result.passed:
            (directory / "parity_report.txt").write_text(format_parity_report(result.report))
            raise StageError(
                f"The parity gate failed:\n{format_parity_report(result.report)}\n"
                f"Report: {out / 'parity_report.json'}. Nothing is pushed from this run."
            )
        return {
            "export_dir": str(out),
            "model_sha256": file_sha256(out / "model.keras"),
            "parity": {name: r["passed"] for name, r in result.report["artifacts"].items()},
        }

    inputs = {
        "model": train.model_sha256,
        "data": data.fingerprint,
        "recalibrate_batchnorm_faces": settings.recalibrate_batchnorm_faces,
        "parity_examples": settings.parity_examples,
        "representative_examples": settings.representative_examples,
        "seed": config.seed,
    }
    return cached_result(
        ExportResult, settings, run_id, "export", inputs, compute, lambda r: f"parity passed, {r.export_dir}"
    )
