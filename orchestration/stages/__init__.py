"""One module per pipeline stage: what each KFP component runs, calling the project's library.

Every stage takes the run's settings (``PipelineSettings``), its run id and the results of the stages it depends
on, and returns its own result: frozen dataclasses of ``orchestration.stage_results``, turned into JSON and back
only where KFP passes them between components (``run_stage``). The expensive part of a stage runs in a stage
directory keyed by its inputs (``stage_cache.cached_stage``): statistics, training, export, evaluations,
benchmark. The decisions that depend on what else exists (anomalies against the last push, blessing against the
baseline, card, push, lineage) run every time and are cheap.

    data -> train -> export -> evaluate (+ bless) -> bench -> card -> push -> lineage
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from orchestration.settings import SETTINGS_FILE, PipelineSettings
from orchestration.stage_cache import read_progress, record_progress, run_dir
from orchestration.stage_results import UPSTREAM_TYPES, CandidateResults, JsonRecord
from orchestration.stages.bench import bench_stage
from orchestration.stages.card import card_stage
from orchestration.stages.common import (
    BLESSING_FILE,
    MANIFEST_FILE,
    STAGE_VERSIONS,
    STATISTICS_FILE,
    StageError,
    write_json,
)
from orchestration.stages.data import data_stage
from orchestration.stages.evaluate import evaluate_stage, resolve_baseline
from orchestration.stages.export import export_stage
from orchestration.stages.lineage import lineage_stage, run_lineage
from orchestration.stages.push import find_pushed, push_stage
from orchestration.stages.train import train_stage

__all__ = [
    "BLESSING_FILE",
    "MANIFEST_FILE",
    "STAGES",
    "STAGE_VERSIONS",
    "STATISTICS_FILE",
    "StageError",
    "bench_stage",
    "card_stage",
    "data_stage",
    "evaluate_stage",
    "export_stage",
    "find_pushed",
    "lineage_stage",
    "push_stage",
    "resolve_baseline",
    "run_lineage",
    "run_stage",
    "train_stage",
]

#: Each stage's function by the name ``run_stage`` (and the KFP component) gives it.
STAGES: dict[str, Callable[..., JsonRecord]] = {
    "data": data_stage,
    "train": train_stage,
    "export": export_stage,
    "evaluate": evaluate_stage,
    "bench": bench_stage,
    "card": card_stage,
    "push": push_stage,
    "lineage": lineage_stage,
}


def upstream_results(upstream: dict[str, str]) -> dict[str, JsonRecord]:
    """The results a stage depends on, read from KFP's JSON into their records.

    The five results of the stages that make and measure the candidate, when all are given (the card, push and
    lineage stages), become one ``CandidateResults`` named ``candidate``.

    Args:
        upstream: Parameter name (a key of ``stage_results.UPSTREAM_TYPES``) -> the result's ``to_dict()`` as JSON.

    Returns:
        Parameter name -> record.

    Raises:
        ValueError: if a result has a field its record does not know.
    """
    values = {param: json.loads(text) for param, text in upstream.items()}
    bundled = [field.name for field in dataclasses.fields(CandidateResults)]
    if set(bundled) <= set(values):
        values["candidate"] = {name: values.pop(name) for name in bundled}
    return {param: UPSTREAM_TYPES[param].from_dict(value) for param, value in values.items()}


def run_stage(name: str, settings: str, run_id: str, **upstream: str) -> str:
    """Run stage ``name`` as a pipeline task does: JSON in and out, logging set up, the settings saved by the first.

    KFP passes dict parameters as protobuf Structs, which hold no None and turn integers into floats: the settings
    and every stage's result travel as JSON text instead, read here into ``PipelineSettings`` and the stages'
    result records (``stage_results.UPSTREAM_TYPES``).

    Args:
        name: A key of ``STAGES``.
        settings: ``PipelineSettings.to_dict()`` as JSON.
        run_id: The run's id.
        upstream: The results of the stages it depends on (``to_dict()`` as JSON), by parameter name
            (``upstream_results``).

    Returns:
        The stage's result (``to_dict()``) as JSON.

    Raises:
        StageError: if the stage stops the run; whatever else the stage raises. A failure that no step of the stage
            logged is logged ``failed`` under ``name`` in the run's progress log.
    """
    from pipeline.cli import setup_logging

    setup_logging()
    values = json.loads(settings)
    root = values.get("root", PipelineSettings.root)
    try:
        if name == "data":
            write_json(run_dir(root, run_id) / SETTINGS_FILE, values)
        result = STAGES[name](PipelineSettings.from_dict(values), run_id, **upstream_results(upstream))
    except BaseException as e:
        events = read_progress(root, run_id)
        if not events or events[-1]["state"] != "failed":  # raised outside the stage's steps: say it here
            record_progress(root, run_id, name, "failed", error=f"{type(e).__name__}: {e}")
        raise
    return json.dumps(result.to_dict(), default=str)
