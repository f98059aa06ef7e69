"""The console scripts of ``pipeline``: thin ``main(argv)`` functions that parse arguments first.

Parsing (and ``--help``) imports nothing heavy; TensorFlow loads only once there is work to do.
"""

from __future__ import annotations

import argparse
import logging

from model_zoo.constants import LABEL_MODES


def add_label_options(parser: argparse.ArgumentParser, labels_help: str, default: str | None = None) -> None:
    """Add ``--labels MODE`` (a key of ``model_zoo.constants.LABEL_MODES``) and ``--ferplus PATH`` to ``parser``.

    Args:
        parser: The command's parser.
        labels_help: What the labels are for in this command, and its default.
        default: ``--labels``' default (None: the command decides, e.g. from the model's run).
    """
    parser.add_argument("--labels", default=default, choices=tuple(LABEL_MODES), help=labels_help)
    parser.add_argument(
        "--ferplus",
        metavar="PATH",
        help="the FER+ vote file fer2013new.csv of --labels ferplus-* (default: the one beside the FER2013 CSV, or "
        "in ../ferplus/ of the CSV's directory)",
    )


def setup_logging(level: int = logging.INFO) -> None:
    """Timestamped log lines, without TFDS's and absl's per-split notices."""
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("absl").setLevel(logging.ERROR)
