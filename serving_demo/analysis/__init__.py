"""Batch and video analysis: ``fer-analyze`` and its Python API ``serving_demo.analysis.analyze``."""

from __future__ import annotations


def analyze(*args, **kwargs):
    """See ``serving_demo.analysis.engine.analyze`` (imported on first use: this package imports nothing heavy)."""
    from serving_demo.analysis.engine import analyze as run

    return run(*args, **kwargs)
