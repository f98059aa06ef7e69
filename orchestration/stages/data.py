"""The data stage: prepare the dataset with the training's labels, compute its statistics (cached by the source's
fingerprint and the labels), check them against the schema of those labels' classes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from export.push import latest_pushed
from orchestration.settings import PipelineSettings
from orchestration.stage_cache import run_dir
from orchestration.stage_results import DataCheck, DataResult, DataStatistics
from orchestration.stages.common import STATISTICS_FILE, StageError, cached_result, decision_step, write_json
from pipeline.lineage import file_sha256


def data_stage(settings: PipelineSettings, run_id: str) -> DataResult:
    """Prepare the dataset with the training's labels, compute its statistics (cached by the source's fingerprint, the
    label mode and the FER+ file's hash) and check them.

    The anomaly check runs every time: against ``settings``' schema (the classes of the training's labels) and the
    statistics pushed with the latest version.

    Args:
        settings: The run's settings.
        run_id: The run's id.

    Returns:
        The statistics (``fingerprint`` of the prepared faces and labels, faces per split, the statistics' path)
        and their check (the markdown report, the anomalies, the statistics compared with).

    Raises:
        StageError: on anomalies of severity error, unless ``allow_anomalies``.
        MissingDataError, BadRowError, MissingFerPlusError, FerPlusError: from the dataset.
    """
    from pipeline.data_validation import split_statistics
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.fer2013_sources import find_source
    from pipeline.ferplus_labels import FERPLUS_MODES, locate_ferplus_file
    from pipeline.input_pipeline import dataset_to_arrays

    config = settings.check()

    def compute(directory: Path) -> dict[str, Any]:
        fer = load_fer2013(config.data, config.data_dir, config.skip_bad_rows, config.labels, config.ferplus)
        arrays = {name: dataset_to_arrays(ds) for name, ds in fer.splits.items()}
        statistics = split_statistics(arrays, fer.class_names, fer.label_mode)
        write_json(directory / STATISTICS_FILE, statistics)
        return {
            "fingerprint": statistics["fingerprint"],
            "splits": {name: v["faces"] for name, v in statistics["splits"].items()},
            "statistics": str(directory / STATISTICS_FILE),
            "source": str(fer.source),
        }

    source = find_source(config.data)
    ferplus = locate_ferplus_file(source.path, config.ferplus) if config.labels in FERPLUS_MODES else None
    inputs = {
        "source": source.fingerprint(),
        "skip_bad_rows": config.skip_bad_rows,
        "labels": config.labels,
        "ferplus": file_sha256(ferplus) if ferplus else None,
    }
    statistics = cached_result(
        DataStatistics,
        settings,
        run_id,
        "data",
        inputs,
        compute,
        lambda r: f"{sum(r.splits.values())} faces {r.splits}",
    )
    check = decision_step(
        DataCheck,
        settings,
        run_id,
        "data-check",
        lambda: check_statistics(settings, run_id, statistics),
        lambda r: f"{len(r.anomalies)} finding(s), report {r.report}",
    )
    return DataResult.from_parts(statistics, check)  # the statistics' seconds stay the stage's


def check_statistics(settings: PipelineSettings, run_id: str, statistics: DataStatistics) -> DataCheck:
    """Find the anomalies of the statistics and write their report into ``runs/<id>/data/``.

    Args:
        settings: The run's settings (the schema's limits, where versions are pushed, ``allow_anomalies``).
        run_id: The run's id.
        statistics: The data stage's statistics.

    Returns:
        The report's path, the anomalies and the statistics they were compared with (those pushed with the latest
        version), if any.

    Raises:
        StageError: on anomalies of severity error, unless ``allow_anomalies``.
    """
    from pipeline.data_validation import find_anomalies, write_report

    values = json.loads(Path(statistics.statistics).read_text())
    latest = latest_pushed(settings.push_dir)
    previous_path = latest / STATISTICS_FILE if latest and (latest / STATISTICS_FILE).exists() else None
    previous = json.loads(previous_path.read_text()) if previous_path else None
    anomalies = find_anomalies(values, settings.schema(), previous)
    _, report = write_report(values, anomalies, run_dir(settings.root, run_id) / "data")
    errors = [a for a in anomalies if a.severity == "error"]
    if errors and not settings.allow_anomalies:
        listed = "; ".join(f"{a.kind} ({a.split}): {a.detail}" for a in errors)
        raise StageError(
            f"{len(errors)} data anomal{'y' if len(errors) == 1 else 'ies'} stop the run: {listed}. "
            f"Report: {report}. Fix the data, change the schema's limits, or pass --allow-anomalies."
        )
    return DataCheck(
        report=str(report),
        anomalies=[vars(a) for a in anomalies],
        previous=str(previous_path) if previous_path else None,
    )
