"""Lineage: what made an artifact. Data fingerprint, resolved config, code version, environment, artifact hashes,
metrics, the blessing decision and the baseline it was compared with, in one JSON per run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from importlib import metadata as importlib_metadata
from pathlib import Path

from fer_runtime.atomic_files import write_text_atomic
from pipeline.run_metadata import environment

PACKAGE = "fer-pipeline"
LINEAGE_FILE = "lineage.json"  # in a run directory and in every pushed version


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, as hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def artifact_hashes(directory: str | Path) -> dict[str, dict]:
    """``{relative path: {"sha256", "bytes"}}`` of every file under ``directory`` (sorted; SavedModels included)."""
    root = Path(directory)
    hashes = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hashes[path.relative_to(root).as_posix()] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    return hashes


def code_version(root: str | Path | None = None) -> dict:
    """The package version and, in a git checkout, the commit and whether the tree had changes (None without git)."""
    root = Path(root) if root else Path(__file__).resolve().parents[1]
    try:
        version = importlib_metadata.version(PACKAGE)
    except importlib_metadata.PackageNotFoundError:
        version = None

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"package_version": version, "git_commit": commit, "git_dirty": bool(status) if commit else None}


def make_lineage(
    run_id: str,
    data_fingerprint: str,
    config: dict,
    artifacts_dir: str | Path | None = None,
    metrics: dict | None = None,
    blessing: dict | None = None,
    baseline: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """The lineage record of one pipeline run.

    Args:
        run_id: The run's name.
        data_fingerprint: ``split_statistics(...)["fingerprint"]`` of the data it trained and evaluated on.
        config: The resolved training config.
        artifacts_dir: The exported artifacts (hashed file by file).
        metrics: The candidate's evaluation.
        blessing: ``Blessing.to_dict()``.
        baseline: What the candidate was compared with (e.g. ``{"path", "version", "metrics"}``).
        extra: Anything else the pipeline records (stage timings, the push).
    """
    return {
        "run_id": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data_fingerprint": data_fingerprint,
        "config": config,
        "code": code_version(),
        "environment": environment(),
        "artifacts": artifact_hashes(artifacts_dir) if artifacts_dir else {},
        "metrics": metrics,
        "blessing": blessing,
        "baseline": baseline,
        **(extra or {}),
    }


def write_lineage(lineage: dict, path: str | Path) -> Path:
    """Write the lineage as JSON, atomically (a reader never sees half of it)."""
    write_text_atomic(Path(path), json.dumps(lineage, indent=2, sort_keys=False))
    return Path(path)
