"""Batch and video analysis: ``fer-analyze`` and its Python API ``serving_demo.analysis.analyze``."""

from __future__ import annotations

from collections.abc import Iterator


def analyze(*args, **kwargs) -> Iterator[dict]:
    """See ``serving_demo.analysis.engine.analyze`` (imported on first use: this package imports nothing heavy).

    Args:
        *args, **kwargs: ``engine.analyze``'s: paths, recognizer, options or ``AnalysisOptions`` fields.

    Returns:
        The records, one at a time.
    """
    from serving_demo.analysis.engine import analyze as run

    return run(*args, **kwargs)
