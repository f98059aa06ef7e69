"""The console scripts of ``export``: thin ``main(argv)`` functions that parse arguments before any heavy import."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fer_runtime.atomic_files import write_text_atomic


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--json PATH``, where a benchmark also writes its result."""
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH (default: print only)")


def add_demo_call_options(parser: argparse.ArgumentParser, image: Path, timeout: float, model_note: str) -> None:
    """Add what a benchmark that calls the demo's ``analyze`` sends: ``--image``, ``--timeout``, the model options
    (``serving_demo.command_line.add_model_options`` without defaults, explained by ``model_note``) and ``--json``.
    """
    from serving_demo.command_line import add_model_options

    parser.add_argument("--image", default=str(image), help="the photo to send (default: %(default)s)")
    parser.add_argument(
        "--timeout", type=float, default=timeout, help="seconds allowed per call (default: %(default)s)"
    )
    add_model_options(parser, defaults=False, note=model_note)
    add_json_option(parser)


def report(table: str, result: dict | None, json_path: str | None) -> None:
    """Print a benchmark's ``table`` and, with ``json_path``, write ``result`` there as JSON (atomically)."""
    print(table)
    if json_path and result is not None:
        write_text_atomic(Path(json_path), json.dumps(result, indent=2) + "\n")
        print(f"wrote {json_path}")
