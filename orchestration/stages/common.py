"""What the stage modules share: the error that stops a run, the stages' versions and file names, and the steps of
``stage_cache`` with typed results."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fer_runtime.atomic_files import write_text_atomic
from model_zoo.artifacts import MANIFEST_FILE  # noqa: F401  (re-exported for the stages)
from orchestration.settings import PipelineSettings
from orchestration.stage_cache import cached_stage, uncached_stage
from orchestration.stage_results import JsonRecord

STATISTICS_FILE = "data_statistics.json"
BLESSING_FILE = "blessing.json"

# Raised when a stage's code changes what it computes: its earlier results are then not reused.
# 2: the label mode of the data (FER2013's or FER+'s labels) is part of the data's statistics and evaluations;
# export 2: the parity gate counts ties as agreement (its report gains ``ties`` and the figures up to ties).
STAGE_VERSIONS = {"data": 2, "train": 1, "export": 2, "evaluation": 2, "bench": 1}

Result = TypeVar("Result", bound=JsonRecord)


class StageError(RuntimeError):
    """A stage decided that the run must stop (data anomalies, a failed parity gate); the message says where the
    report is and what to do."""


def write_json(path: Path, value: dict[str, Any]) -> Path:
    """Write ``value`` as indented JSON to ``path`` atomically, creating its directory.

    Args:
        path: The file to write.
        value: JSON-ready (other values are written as their ``str``).

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(value, indent=2, default=str))
    return path


def cached_result(
    result_type: type[Result],
    settings: PipelineSettings,
    run_id: str,
    stage: str,
    inputs: dict[str, Any],
    compute: Callable[[Path], dict[str, Any]],
    summary: Callable[[Result], str],
    progress_name: str | None = None,
    added: dict[str, Any] | None = None,
) -> Result:
    """``stage_cache.cached_stage`` under the settings' root, at the stage's version, its result read as a record.

    Args:
        result_type: The record the result is read as.
        settings: The run's settings.
        run_id: The run's id.
        stage: A key of ``STAGE_VERSIONS``: the stage directories' family.
        inputs: Everything that decides the result (JSON-serialisable).
        compute: Called with the stage directory; returns the fields ``result.json`` keeps (JSON-ready).
        summary: A one-line description of a result, for the progress log.
        progress_name: The step's name in the progress log (default: ``stage``).
        added: Fields of the record that depend on more than ``inputs`` (added after the cache, never stored).

    Returns:
        The result, with ``stage_dir``, ``key``, ``seconds``, ``code`` and ``reused``.

    Raises:
        Whatever ``compute`` raises.
    """

    def read(values: dict[str, Any]) -> Result:
        return result_type.from_dict({**values, **(added or {})})

    values = cached_stage(
        settings.root,
        run_id,
        stage,
        inputs,
        compute,
        lambda computed: summary(read(computed)),
        progress_name=progress_name,
        version=STAGE_VERSIONS[stage],
    )
    return read(values)


def decision_step(
    result_type: type[Result],
    settings: PipelineSettings,
    run_id: str,
    step: str,
    decide: Callable[[], Result],
    summary: Callable[[Result], str],
) -> Result:
    """``stage_cache.uncached_stage`` (run every time, logged as ``step``) with a typed result.

    Args:
        result_type: The record ``decide`` returns.
        settings: The run's settings.
        run_id: The run's id.
        step: The step's name in the progress log.
        decide: Returns the step's result.
        summary: A one-line description of a result, for the progress log.

    Returns:
        ``decide``'s result, with the step's ``seconds`` when the record has that field.

    Raises:
        Whatever ``decide`` raises.
    """
    values = uncached_stage(
        settings.root, run_id, step, lambda: decide().to_dict(), lambda done: summary(result_type.from_dict(done))
    )
    if "seconds" not in {field.name for field in dataclasses.fields(result_type)}:
        del values["seconds"]  # a part of a stage's result (the blessing): the progress log has its time
    return result_type.from_dict(values)
