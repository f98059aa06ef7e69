"""The rules both runners of ``fer-analyze`` follow for their output: whose an existing output is, and what a failed
write becomes.

A run claims its output in the first line of ``<output>.progress.jsonl``: the settings that must match to go on
with it (``RunSettings.resume_key``, which names the runner). An existing output is written over or resumed only
by the command that claims it, or with ``--overwrite``; anything else is refused with the same message by both
runners. A write that fails (full disk, read-only folder) becomes an ``OutputError``: one line for the user,
and the same command run again goes on from what was safely written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

CLAIM_SUFFIX = ".progress.jsonl"


class OutputError(OSError):
    """An output that could not be written; the message names it, says why, and what to do."""


def claim_path(output: str) -> str:
    """The file whose first line claims ``output`` for a run: ``<output>.progress.jsonl``.

    Args:
        output: The records' file (a local path or any Beam file system's).

    Returns:
        The claim's path, beside it.
    """
    return output + CLAIM_SUFFIX


def check_owner(output: str, output_exists: bool, claimed: dict | None, settings: dict, overwrite: bool) -> bool:
    """Whether this run goes on with an output already there; refuse an output that is another run's or nobody's.

    Args:
        output: The records' file.
        output_exists: Whether it exists.
        claimed: The settings in its claim (``claim_path``), or None for no claim.
        settings: This run's settings (``RunSettings.resume_key``).
        overwrite: Start afresh whatever is there (``--overwrite``).

    Returns:
        True if the output and its claim are this command's own (to resume, or to redo for Beam); False for a new
        run (nothing there, or ``overwrite``).

    Raises:
        ValueError: if the output exists with no claim, or the claim is another command's (without ``overwrite``).
    """
    if overwrite:
        return False
    if claimed is None:
        if output_exists:
            raise ValueError(
                f"{output} exists and is not the output of a fer-analyze run: use --overwrite or another --output"
            )
        return False
    if claimed != settings:
        raise ValueError(
            f"{output} was written by another fer-analyze command ({settings_difference(claimed, settings)}); "
            "repeat that command to go on with it, or use --overwrite or another --output"
        )
    return True


def settings_difference(claimed: dict, settings: dict) -> str:
    """The settings in which a claim differs from this run's, in one line.

    Args:
        claimed: The claim's settings.
        settings: This run's.

    Returns:
        ``"every: 15 there, 10 here; runner: 'beam' there, 'local' here"``.
    """
    keys = [k for k in dict.fromkeys([*claimed, *settings]) if claimed.get(k) != settings.get(k)]
    return "; ".join(f"{k}: {claimed.get(k)!r} there, {settings.get(k)!r} here" for k in keys)


def failure_reason(error: BaseException) -> str:
    """Why a write failed, in a few words: the system's reason (``No space left on device``), found inside
    the wrappers Beam's file systems put around it.

    Args:
        error: The error the write raised.

    Returns:
        The reason, one line.
    """
    details = getattr(error, "exception_details", None)  # Beam's BeamIOError: {path(s): error}
    if isinstance(details, dict) and details:
        return failure_reason(next(iter(details.values())))
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if error.args and isinstance(error.args[0], BaseException):
        return failure_reason(error.args[0])
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


KEPT = "what was written is kept"


def output_error(path: str, error: BaseException, kept: str = KEPT) -> OutputError:
    """The ``OutputError`` for a write of ``path`` that failed with ``error``.

    Args:
        path: The file that could not be written.
        error: What the write raised.
        kept: What is left of the output (the local runner keeps what it wrote; Beam leaves the output as it was).

    Returns:
        The error to raise, whose message says what the user can do.
    """
    return OutputError(
        f"cannot write {path}: {failure_reason(error)}; {kept}: run the same command again once it can be written"
    )


@contextmanager
def writing(path: str, kept: str = KEPT) -> Iterator[None]:
    """Turn an ``OSError`` raised in the block into the ``OutputError`` of ``path``.

    Args:
        path: The file the block writes.
        kept: What is left of the output if it fails (see ``output_error``).

    Yields:
        Nothing.

    Raises:
        OutputError: if the block raised an ``OSError`` (an ``OutputError`` passes unchanged).
    """
    try:
        yield
    except OutputError:
        raise
    except OSError as e:
        raise output_error(str(path), e, kept) from e
