"""What a failed Beam run of ``fer-analyze`` raises and logs: one line for a file system's error, no traceback.

Beam re-raises a step's error as a ``RuntimeError`` naming the step; ``pipeline_error`` finds the file system's error
behind it (a full disk, a read-only folder) and ``beam_errors_not_logged`` keeps Beam from logging the traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from serving_demo.analysis.beam_output import KEPT
from serving_demo.analysis.outputs import OutputError, failure_reason, output_error

OS_ERROR_TEXT = re.compile(r"\w*Error: \[Errno \d+\] ([^\[\n]+)")  # an OSError in a worker's traceback text


def pipeline_error(error: Exception, output: str) -> Exception:
    """What to raise for an error of the pipeline: an ``OutputError`` for a file system's error while writing
    ``output`` (a full disk, a read-only folder), one line for another file system error, else ``error`` itself.

    Beam re-raises a step's error as a ``RuntimeError`` naming the step, with the original as its context (in
    this process) or in its text (from worker processes).

    Args:
        error: What running the pipeline raised.
        output: The records' file.

    Returns:
        The error to raise.
    """
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen and not isinstance(cause, OSError):
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    cause = cause if isinstance(cause, OSError) else None
    text = str(error)
    in_text = OS_ERROR_TEXT.search(text)
    if cause is None and in_text is None:
        return error
    reason = failure_reason(cause) if cause is not None else in_text.group(1).strip()
    if isinstance(cause, OutputError):
        return cause
    if "while running 'Write" in text:
        return output_error(output, OSError(0, reason), KEPT)
    return OSError(f"the Beam pipeline failed: {reason}")


@contextmanager
def beam_errors_not_logged() -> Iterator[None]:
    """Keep Beam from logging a failed step's traceback: its error is raised, and reported in one line."""
    logger = logging.getLogger("apache_beam.runners.common")

    def quiet(record: logging.LogRecord) -> bool:
        return record.exc_info is None

    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
