"""Writing files so that a kill mid-write never leaves a half-written one: write beside, then rename.

The one atomic writer of the project. It sits in the lowest layer that writes files (training, tuning,
the demo's cache, the analysis runner and the pipeline all import it), so no layer keeps a copy.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed onto ``path`` when the block ends without an error.

    Args:
        path: The final file.
        suffix: The temporary file's suffix, for writers that insist on one (Keras wants ``.keras``,
            OpenCV's video writer picks its container from it). Default: ``path``'s own suffix.

    Yields:
        The temporary path, in the same directory (so the rename is atomic). It does not exist yet.

    Raises:
        OSError: if the directory cannot be written. On any error the temporary file is removed and ``path``
            is left as it was.
    """
    path = Path(path)
    fd, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".partial{suffix or path.suffix}")
    os.close(fd)
    staging_path = Path(staging)
    staging_path.unlink()  # writers such as Keras refuse or append to an existing file
    try:
        yield staging_path
        os.replace(staging_path, path)
    except BaseException:
        staging_path.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename (see ``atomic_path``)."""
    with atomic_path(path) as staging:
        staging.write_bytes(data)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename (see ``atomic_path``)."""
    with atomic_path(path) as staging:
        staging.write_text(text)


def save_model_atomic(model, path: str | Path) -> None:
    """Save a Keras ``model`` to ``path`` (a ``.keras`` file) in one rename."""
    with atomic_path(path, suffix=".keras") as staging:
        model.save(staging)
