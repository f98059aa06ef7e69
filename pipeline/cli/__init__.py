"""The console scripts of ``pipeline``: thin ``main(argv)`` functions that parse arguments first.

Parsing (and ``--help``) imports nothing heavy; TensorFlow loads only once there is work to do.
"""

from __future__ import annotations

import logging


def setup_logging(level: int = logging.INFO) -> None:
    """Timestamped log lines, without TFDS's and absl's per-split notices."""
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("absl").setLevel(logging.ERROR)
