"""Stage directories keyed by the fingerprint of their inputs, with done markers and a per-run progress log.

KFP's local mode runs every task again on every run (its optional cache, ``kfp.local.init(enable_caching=True)``,
keys on argument values: a changed file under the same path would be reused). Here a stage's expensive part runs
in ``ROOT/stages/<stage>/<key>/``, where ``key`` hashes everything that decides its result: settings, the content
fingerprint of the data, the sha256 of the model it starts from. ``result.json``, written last and atomically, marks
the stage done: a later run with the same inputs reads it instead of running the stage. The inputs include a
version per stage (``orchestration.stages.STAGE_VERSIONS``), raised when a stage's code changes what it computes;
``result.json`` records the code version (git commit) that computed it. A stage killed before its
marker left a directory without one: the next run goes on in the same directory (training resumes from its
backup; the other stages start again, writing beside their outputs and renaming into place).

Every run appends what each stage did to ``ROOT/runs/<run id>/progress.jsonl``: ``started``, ``reused``, ``done``
or ``failed``, with the key, the seconds and a one-line summary.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fer_runtime.atomic_files import write_text_atomic
from pipeline.lineage import code_version

log = logging.getLogger("fer-pipeline")

RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.jsonl"
KEY_LENGTH = 16


class RootBusyError(RuntimeError):
    """Another pipeline run holds the root."""


@contextlib.contextmanager
def root_lock(root: str | Path) -> Iterator[None]:
    """Hold ``ROOT/.lock`` for one run: two runs writing the same stage directories would corrupt them.

    Args:
        root: The pipeline root (created if missing).

    Yields:
        Nothing; the lock is held until the block ends.

    Raises:
        RootBusyError: if another process holds it.
    """
    Path(root).mkdir(parents=True, exist_ok=True)
    with open(Path(root) / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RootBusyError(
                f"another fer-pipeline run is using {root}; wait for it, or give another --root"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def input_key(inputs: dict[str, Any]) -> str:
    """A hex fingerprint of ``inputs``.

    Args:
        inputs: JSON-serialisable values; key order does not matter.

    Returns:
        The first ``KEY_LENGTH`` hex digits of the sha256 of their sorted JSON.
    """
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def run_dir(root: str | Path, run_id: str) -> Path:
    """A run's directory.

    Args:
        root: The pipeline root.
        run_id: The run.

    Returns:
        ``ROOT/runs/<run id>/``, created if missing.
    """
    path = Path(root) / "runs" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_progress(root: str | Path, run_id: str, stage: str, state: str, **fields: Any) -> None:
    """Append one event to the run's progress log and say it on the log.

    Args:
        root: The pipeline root.
        run_id: The run.
        stage: The step's name.
        state: ``started``, ``reused``, ``done`` or ``failed``.
        fields: More of the event (``key``, ``seconds``, ``summary``, ``error``...), JSON-serialisable.
    """
    event = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "stage": stage, "state": state, **fields}
    with open(run_dir(root, run_id) / PROGRESS_FILE, "a") as f:
        f.write(json.dumps(event) + "\n")
    detail = fields.get("summary") or fields.get("error") or ""
    log.info("[%s] %s%s", stage, state, f": {detail}" if detail else "")


def read_progress(root: str | Path, run_id: str) -> list[dict]:
    """The events of a run's progress log.

    Args:
        root: The pipeline root.
        run_id: The run.

    Returns:
        The events, oldest first (none if the run has no log).
    """
    path = Path(root) / "runs" / run_id / PROGRESS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cached_stage(
    root: str | Path,
    run_id: str,
    stage: str,
    inputs: dict[str, Any],
    compute: Callable[[Path], dict],
    summary: Callable[[dict], str] = lambda result: "",
    progress_name: str | None = None,
    version: int = 1,
) -> dict:
    """The result of ``compute`` for these ``inputs``: read from a finished stage directory, or computed into it.

    Args:
        root: The pipeline root.
        run_id: The run this stage belongs to (its progress log gets the events).
        stage: The stage's name; its directories are ``ROOT/stages/<stage>/<key>/``.
        inputs: Everything that decides the result (JSON-serialisable).
        compute: Called with the stage directory; returns the result (a JSON-ready dict).
        summary: A one-line description of a result, for the progress log.
        progress_name: The stage's name in the progress log (default: ``stage``), when one stage directory
            family serves several steps (the evaluations of the candidate and of the baseline).
        version: The stage's version, part of the key: raised when its code changes what it computes.

    Returns:
        The result, with ``stage_dir``, ``key`` and ``reused`` (True when read from an earlier run) added.

    Raises:
        Whatever ``compute`` raises; the stage is then logged ``failed`` and left without a done marker.
    """
    key = input_key({"inputs": inputs, "stage_version": version})
    name = progress_name or stage
    directory = Path(root) / "stages" / stage / key
    marker = directory / RESULT_FILE
    if marker.exists():
        text = marker.read_text()
        recorded_dir = json.loads(text)["stage_dir"]
        if recorded_dir != str(directory):  # the root was moved or copied: its paths moved with it
            text = text.replace(json.dumps(recorded_dir)[1:-1], json.dumps(str(directory))[1:-1])
        result = json.loads(text)
        record_progress(root, run_id, name, "reused", key=key, summary=summary(result), stage_dir=str(directory))
        return {**result, "reused": True}
    resumed = directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(directory / "inputs.json", json.dumps(inputs, indent=2, sort_keys=True, default=str))
    record_progress(root, run_id, name, "started", key=key, resumed=resumed, stage_dir=str(directory))
    started = time.perf_counter()
    try:
        result = compute(directory)
    except BaseException as e:
        record_progress(root, run_id, name, "failed", key=key, error=f"{type(e).__name__}: {e}")
        raise
    seconds = round(time.perf_counter() - started, 2)
    result = {**result, "stage_dir": str(directory), "key": key, "seconds": seconds, "code": code_version()}
    write_text_atomic(marker, json.dumps(result, indent=2, default=str))
    record_progress(root, run_id, name, "done", key=key, seconds=seconds, summary=summary(result))
    return {**result, "reused": False}


def uncached_stage(
    root: str | Path,
    run_id: str,
    stage: str,
    compute: Callable[[], dict],
    summary: Callable[[dict], str] | None = None,
) -> dict:
    """Run a cheap decision step (blessing, card, push, lineage) every time, with the same progress events.

    Args:
        root, run_id, stage: As ``cached_stage``.
        compute: Returns the step's result (a JSON-ready dict).
        summary: A one-line description of a result, for the progress log.

    Returns:
        The result, with ``seconds`` added.

    Raises:
        Whatever ``compute`` raises, after logging the stage ``failed``.
    """
    record_progress(root, run_id, stage, "started")
    started = time.perf_counter()
    try:
        result = compute()
    except BaseException as e:
        record_progress(root, run_id, stage, "failed", error=f"{type(e).__name__}: {e}")
        raise
    seconds = round(time.perf_counter() - started, 2)
    record_progress(root, run_id, stage, "done", seconds=seconds, summary=summary(result) if summary else "")
    return {**result, "seconds": seconds}
