"""The model options every command that runs the recognizer shares: ``--artifacts``, ``--backend``, ``--detector``.

``fer-demo``, ``fer-analyze``, ``fer-bench`` and the demo benchmarks take the same three options with the same
names, choices and defaults; they come from here so that a new backend or detector reaches all of them.
"""

from __future__ import annotations

import argparse

from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND
from serving_demo.detectors import DEFAULT_DETECTOR, DETECTORS


def add_model_options(
    parser: argparse.ArgumentParser,
    *,
    backend: bool = True,
    detector: bool = True,
    defaults: bool = True,
    note: str = "",
) -> None:
    """Add ``--artifacts DIR`` and, as asked, ``--backend NAME`` and ``--detector NAME`` to ``parser``.

    Args:
        parser: The command's parser.
        backend: Add ``--backend`` (choices: ``model_zoo.artifacts.BACKENDS``).
        detector: Add ``--detector`` (choices: ``serving_demo.detectors.DETECTORS``).
        defaults: Default to ``DEFAULT_BACKEND`` / ``DEFAULT_DETECTOR``; without, an option left out is ``None``
            (for a benchmark that sends only what it is given).
        note: Appended to the help of ``--backend`` and ``--detector`` (e.g. "the page can switch it").
    """
    parser.add_argument(
        "--artifacts",
        metavar="DIR|NAME",
        help="a fer-export output directory or a shipped model's name (fer-models lists them; default: the default "
        "shipped model)",
    )
    suffix = f"; {note}" if note else ""
    options = [("--backend", "classifier backend", BACKENDS, DEFAULT_BACKEND)] if backend else []
    options += [("--detector", "face detector", tuple(DETECTORS), DEFAULT_DETECTOR)] if detector else []
    for flag, what, names, default in options:
        parser.add_argument(
            flag,
            choices=list(names),
            default=default if defaults else None,
            metavar="NAME",
            help=f"{what}, one of {', '.join(names)} (default: {default if defaults else 'not sent'}){suffix}",
        )
