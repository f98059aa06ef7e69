"""The console scripts of ``pipeline``: thin ``main(argv)`` functions that parse arguments first.

Parsing (and ``--help``) imports nothing heavy; TensorFlow loads only once there is work to do.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from fer_runtime.command_line import run_command
from model_zoo.constants import LABEL_MODES
from pipeline.config import DATA_DIR_HELP


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


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-dir DIR``, where prepared datasets are cached, to ``parser``."""
    parser.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP)


def run_quiet_command(
    parser: argparse.ArgumentParser, work: Callable[[argparse.Namespace], None], argv: list[str] | None
) -> int:
    """Parse ``argv`` with ``parser``, log warnings only, and run ``work(args)`` under ``run_command``.

    Returns:
        0, or 2 when ``work`` raised one of the errors that mean bad input (the reason printed on one line).
    """
    args = parser.parse_args(argv)
    setup_logging(logging.WARNING)
    return run_command(parser.prog, lambda: work(args))


def setup_logging(level: int = logging.INFO) -> None:
    """Timestamped log lines, without TFDS's and absl's per-split notices."""
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("absl").setLevel(logging.ERROR)
