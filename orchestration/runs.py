"""The runs under a pipeline root, as ``fer-pipeline`` reports them: new ids, the checks before a local run, the
progress table, why a run stopped or was not pushed, and a run's status.

Nothing here imports TensorFlow or KFP: ``fer-pipeline status`` and the checks before a run stay quick.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from orchestration.settings import SETTINGS_FILE, PipelineSettings
from orchestration.stage_cache import read_progress
from orchestration.stage_results import BlessingDecision
from orchestration.stages.common import BLESSING_FILE
from pipeline.lineage import LINEAGE_FILE


def new_run_id() -> str:
    """A new run's id.

    Returns:
        The time and a random suffix, e.g. ``20250101-120000-1a2b3c``.
    """
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def check_local_inputs(settings: PipelineSettings, run_id: str) -> None:
    """What a local run can check before any step starts: the data (and FER+ votes), the baseline, a new run id.

    Args:
        settings: The run's settings (paths absolute).
        run_id: The run's id.

    Raises:
        FileNotFoundError: if the data, the FER+ vote file of FER+ labels or the baseline are missing.
        ValueError: if the run id names a finished run, or another run's settings (``check_run_id``).
    """
    from model_zoo.artifacts import artifact_path
    from pipeline.fer2013_sources import find_source
    from pipeline.ferplus_labels import FERPLUS_MODES, locate_ferplus_file

    config = settings.train_config()
    source = find_source(config.data)  # MissingDataError (a FileNotFoundError) says what to put where
    if config.labels in FERPLUS_MODES:
        locate_ferplus_file(source.path, config.ferplus)  # MissingFerPlusError says where to put it
    if settings.baseline and not artifact_path(settings.baseline, "keras").is_file():
        raise FileNotFoundError(f"--baseline {settings.baseline} holds no model.keras: give a fer-export directory "
                                "or a pushed version")  # fmt: skip
    check_run_id(settings, run_id)


def check_run_id(settings: PipelineSettings, run_id: str) -> None:
    """Refuse a run id used before under the root, unless it names an unfinished run with the same settings: the
    same command after a kill goes on with that run (its finished stages reused, its training resumed).

    Args:
        settings: The run's settings (paths absolute).
        run_id: The run's id.

    Raises:
        ValueError: if the run finished (it has its lineage) or was made with other settings.
    """
    directory = Path(settings.root) / "runs" / run_id
    if not directory.exists():
        return
    if (directory / LINEAGE_FILE).exists():
        raise ValueError(
            f"run {run_id} exists under {settings.root} and finished: give another --run-id, or leave it out"
        )
    try:
        recorded = json.loads((directory / SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        recorded = None
    if recorded != settings.to_dict():
        raise ValueError(
            f"run {run_id} exists under {settings.root} with other settings: give another --run-id, or leave it out"
        )


def progress_lines(root: str | Path, run_id: str) -> list[str]:
    """A header and one line per finished step of the run: reused or done (with seconds), or failed.

    Args:
        root: The pipeline root.
        run_id: The run.

    Returns:
        The table's lines.
    """
    lines = [f"{'stage':<26}{'state':<9}{'seconds':>8}  detail"]
    for e in read_progress(root, run_id):
        if e["state"] == "started":
            continue
        seconds = f"{e['seconds']:.1f}" if "seconds" in e else ""
        lines.append(f"{e['stage']:<26}{e['state']:<9}{seconds:>8}  {e.get('summary') or e.get('error') or ''}")
    return lines


def stopped_message(root: str | Path, run_id: str, error: BaseException) -> str:
    """Where and why a run stopped: the last step its progress log records as failed, else ``error``.

    Args:
        root: The pipeline root.
        run_id: The run.
        error: What the run raised.

    Returns:
        ``run ID stopped at stage STAGE: REASON``.
    """
    failed = [e for e in read_progress(root, run_id) if e["state"] == "failed"]
    reason = failed[-1]["error"] if failed else str(error)
    return f"run {run_id} stopped at stage {failed[-1]['stage'] if failed else '?'}: {reason}"


def not_blessed_reasons(root: str | Path, run_id: str) -> list[str]:
    """Why the run's candidate was not blessed (its ``blessing.json``).

    Args:
        root: The pipeline root.
        run_id: The run.

    Returns:
        The reasons (empty when it was blessed).

    Raises:
        FileNotFoundError: if the run has no blessing yet.
    """
    path = Path(root) / "runs" / run_id / BLESSING_FILE
    return BlessingDecision.from_dict(json.loads(path.read_text())).reasons


def latest_run_id(root: str | Path) -> str:
    """The latest run under a root.

    Args:
        root: The pipeline root.

    Returns:
        The id of the run whose directory changed last.

    Raises:
        FileNotFoundError: if the root has no run.
    """
    runs = Path(root) / "runs"
    found = sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no run under {runs}")
    return found[-1].name


def status_lines(root: str | Path, run_id: str | None = None) -> list[str]:
    """What ``fer-pipeline status`` prints: the run, its progress table, what runs now, and its push.

    Args:
        root: The pipeline root.
        run_id: The run (default: the latest).

    Returns:
        The lines.

    Raises:
        FileNotFoundError: if the root has no run, or the run no progress log.
    """
    if run_id is None:
        run_id = latest_run_id(root)
    runs = Path(root) / "runs"
    events = read_progress(root, run_id)
    if not events:
        raise FileNotFoundError(f"run {run_id} has no progress log under {runs}")
    lines = [f"run {run_id}", *progress_lines(root, run_id)]
    if events[-1]["state"] == "started":
        lines.append(f"running (or killed): {events[-1]['stage']} started at {events[-1]['time']}")
    lineage = runs / run_id / LINEAGE_FILE
    if lineage.exists():
        push = json.loads(lineage.read_text()).get("push") or {}
        lines.append(f"lineage: {lineage}; push: {json.dumps(push)}")
    return lines
