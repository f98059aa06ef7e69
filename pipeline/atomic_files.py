"""Writing files so that a kill mid-write never leaves a half-written one: write beside, then rename."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_model_atomic(model, path: Path) -> None:
    """Save a Keras ``model`` to ``path`` (a ``.keras`` file) in one rename."""
    tmp = path.with_name(f".{path.stem}.partial.keras")  # Keras insists on the .keras suffix
    model.save(tmp)
    os.replace(tmp, path)
